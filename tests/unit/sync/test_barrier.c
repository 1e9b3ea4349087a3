/* test_barrier.c - weft_barrier between threads (private placement) and
 * between processes (WEFT_SHARED): distinct indexes in every round, a
 * timeout or abort breaks it for every waiter, reset, n_waiting, every
 * timeout path, destroy while waited on, bad input, and a party killed
 * while waiting. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <weft/weft.h>

#include "unit/sync/sync_helpers.h"

static void test_bad_input(void **state)
{
    weft_barrier *b = (weft_barrier *)&b;

    assert_int_equal(weft_barrier_create(&b, NULL, 0), -EINVAL);
    assert_null(b);
    assert_int_equal(weft_barrier_create(&b, WEFT_SHARED, -3), -EINVAL);
    assert_int_equal(weft_barrier_create(NULL, NULL, 2), -EINVAL);
    assert_int_equal(weft_barrier_wait(NULL, -1), -EINVAL);
    assert_int_equal(weft_barrier_abort(NULL), -EINVAL);
    assert_int_equal(weft_barrier_reset(NULL), -EINVAL);
    assert_int_equal(weft_barrier_parties(NULL), -EINVAL);
    assert_int_equal(weft_barrier_n_waiting(NULL), -EINVAL);
    assert_int_equal(weft_barrier_broken(NULL), -EINVAL);
    assert_int_equal(weft_barrier_destroy(NULL), 0);
}

static void test_one_party(void **state)
{
    weft_barrier *b;
    int i;

    assert_int_equal(weft_barrier_create(&b, NULL, 1), 0);
    assert_int_equal(weft_barrier_parties(b), 1);
    for (i = 0; i < 5; i++)
        assert_int_equal(weft_barrier_wait(b, 0), 0);
    assert_int_equal(weft_barrier_n_waiting(b), 0);
    assert_int_equal(weft_barrier_broken(b), 0);
    assert_int_equal(weft_barrier_destroy(b), 0);
}

/* ---- Distinct indexes, many rounds -------------------------------------- */

#define MAX_ROUNDS  200
#define MAX_PARTIES 8

struct rounds {
    weft_barrier *b;
    int parties, rounds;
    _Atomic int seen[MAX_ROUNDS][MAX_PARTIES]; /* [round][index] */
    _Atomic int in_round[MAX_ROUNDS];          /* arrived at round r */
};

static int round_worker(void *p, int i)
{
    struct rounds *r = p;
    int k, idx;

    for (k = 0; k < r->rounds; k++) {
        atomic_fetch_add(&r->in_round[k], 1);
        idx = weft_barrier_wait(r->b, 5000);
        if (idx < 0 || idx >= r->parties)
            return idx < 0 ? idx : -1;
        /* Nobody leaves round k before everybody reached it. */
        if (atomic_load(&r->in_round[k]) != r->parties)
            return -2;
        atomic_fetch_add(&r->seen[k][idx], 1);
    }
    return 0;
}

static void distinct_indexes(bool procs)
{
    struct rounds *r = shm_zalloc(sizeof *r);
    struct workers w;
    int k, i;

    r->parties = procs ? 4 : 6;
    r->rounds = UNDER_TSAN ? 50 : (procs ? 100 : MAX_ROUNDS);
    assert_int_equal(weft_barrier_create(&r->b, placement(procs), r->parties),
                     0);
    assert_int_equal(weft_barrier_parties(r->b), r->parties);
    workers_start(&w, procs, r->parties, round_worker, r);
    assert_int_equal(workers_join_all(&w, 0, 20000), r->parties);
    for (k = 0; k < r->rounds; k++)
        for (i = 0; i < r->parties; i++)
            assert_int_equal(atomic_load(&r->seen[k][i]), 1);
    assert_int_equal(weft_barrier_n_waiting(r->b), 0);
    assert_int_equal(weft_barrier_broken(r->b), 0);
    assert_int_equal(weft_barrier_destroy(r->b), 0);
}

static void test_distinct_threads(void **state)
{
    distinct_indexes(false);
}

static void test_distinct_processes(void **state)
{
    distinct_indexes(true);
}

/* More callers than parties, in a free-for-all: every generation hands out
 * each index once. The caller that completes the target-th generation
 * aborts the barrier to stop the others, who must then all see it
 * broken - and a waiter released before the abort must still get its
 * index, not WEFT_EBROKEN. */
struct surplus {
    weft_barrier *b;
    int target;
    _Atomic int gens;
    _Atomic int stop;
    _Atomic int count[2];
};

static int surplus_worker(void *p, int i)
{
    struct surplus *s = p;
    int idx;

    for (;;) {
        idx = weft_barrier_wait(s->b, 5000);
        if (idx == WEFT_EBROKEN)
            return atomic_load(&s->stop) ? 0 : -1;
        if (idx < 0 || idx > 1)
            return -2;
        atomic_fetch_add(&s->count[idx], 1);
        if (idx == 0 && atomic_fetch_add(&s->gens, 1) + 1 == s->target) {
            atomic_store(&s->stop, 1);
            weft_barrier_abort(s->b);
        }
    }
}

static void test_surplus_threads(void **state)
{
    struct surplus *s = shm_zalloc(sizeof *s);
    struct workers w;

    s->target = UNDER_TSAN ? 300 : 3000;
    assert_int_equal(weft_barrier_create(&s->b, NULL, 2), 0);
    workers_start(&w, false, 5, surplus_worker, s);
    assert_int_equal(workers_join_all(&w, 0, 20000), 5);
    assert_true(atomic_load(&s->count[0]) >= s->target);
    assert_int_equal(atomic_load(&s->count[0]), atomic_load(&s->count[1]));
    assert_int_equal(weft_barrier_broken(s->b), 1);
    assert_int_equal(weft_barrier_destroy(s->b), 0);
}

/* ---- Broken barriers ----------------------------------------------------- */

struct one {
    weft_barrier *b;
    int timeout_ms;
};

static int wait_worker(void *p, int i)
{
    struct one *o = p;

    return weft_barrier_wait(o->b, o->timeout_ms);
}

static void all_sleeping(struct workers *w, int n)
{
    int i;

    for (i = 0; i < n; i++)
        assert_true(worker_sleeping(w, i, 3000));
}

/* A full round works (after a reset): two waiters plus this caller. */
static void full_round(struct one *o, bool procs)
{
    struct workers w;
    int idx;

    workers_start(&w, procs, 2, wait_worker, o);
    all_sleeping(&w, 2);
    idx = weft_barrier_wait(o->b, 3000);
    assert_int_equal(idx, 0); /* the last to arrive */
    assert_int_equal(workers_join(&w, 0, 3000) + workers_join(&w, 1, 3000),
                     1 + 2);
}

static void timeout_breaks(bool procs)
{
    struct one *o = shm_zalloc(sizeof *o);
    struct workers w;
    int64_t t0, dt;

    o->timeout_ms = 5000;
    assert_int_equal(weft_barrier_create(&o->b, placement(procs), 3), 0);
    workers_start(&w, procs, 1, wait_worker, o);
    all_sleeping(&w, 1);
    assert_int_equal(weft_barrier_n_waiting(o->b), 1);
    assert_int_equal(weft_barrier_destroy(o->b), -EBUSY);
    t0 = weft_now_ms();
    assert_int_equal(weft_barrier_wait(o->b, 60), -ETIMEDOUT);
    dt = weft_now_ms() - t0;
    assert_true(dt >= 55 && dt < 2000);
    assert_int_equal(workers_join(&w, 0, 3000), WEFT_EBROKEN);
    assert_int_equal(weft_barrier_broken(o->b), 1);
    assert_int_equal(weft_barrier_n_waiting(o->b), 0);
    /* Broken until reset: every caller is told at once. */
    assert_int_equal(weft_barrier_wait(o->b, -1), WEFT_EBROKEN);
    assert_int_equal(weft_barrier_wait(o->b, 0), WEFT_EBROKEN);
    assert_int_equal(weft_barrier_reset(o->b), 0);
    assert_int_equal(weft_barrier_broken(o->b), 0);
    full_round(o, procs);

    /* timeout 0 for a caller that would have to wait: -EAGAIN, broken. */
    assert_int_equal(weft_barrier_wait(o->b, 0), -EAGAIN);
    assert_int_equal(weft_barrier_broken(o->b), 1);
    assert_int_equal(weft_barrier_reset(o->b), 0);
    assert_int_equal(weft_barrier_destroy(o->b), 0);
}

static void test_timeout_breaks_threads(void **state)
{
    timeout_breaks(false);
}

static void test_timeout_breaks_processes(void **state)
{
    timeout_breaks(true);
}

static void abort_and_reset(bool procs)
{
    struct one *o = shm_zalloc(sizeof *o);
    struct workers w;

    o->timeout_ms = 5000;
    assert_int_equal(weft_barrier_create(&o->b, placement(procs), 3), 0);

    /* Abort: both waiters are told, and so is everybody after. */
    workers_start(&w, procs, 2, wait_worker, o);
    all_sleeping(&w, 2);
    assert_int_equal(weft_barrier_n_waiting(o->b), 2);
    assert_int_equal(weft_barrier_abort(o->b), 0);
    assert_int_equal(workers_join_all(&w, WEFT_EBROKEN, 3000), 2);
    assert_int_equal(weft_barrier_broken(o->b), 1);
    assert_int_equal(weft_barrier_wait(o->b, 100), WEFT_EBROKEN);
    assert_int_equal(weft_barrier_reset(o->b), 0);
    full_round(o, procs);

    /* Reset with waiters: they are told, the barrier is usable at once. */
    workers_start(&w, procs, 2, wait_worker, o);
    all_sleeping(&w, 2);
    assert_int_equal(weft_barrier_reset(o->b), 0);
    assert_int_equal(workers_join_all(&w, WEFT_EBROKEN, 3000), 2);
    assert_int_equal(weft_barrier_broken(o->b), 0);
    assert_int_equal(weft_barrier_n_waiting(o->b), 0);
    full_round(o, procs);
    assert_int_equal(weft_barrier_destroy(o->b), 0);
}

static void test_abort_reset_threads(void **state)
{
    abort_and_reset(false);
}

static void test_abort_reset_processes(void **state)
{
    abort_and_reset(true);
}

/* Each of several waiters with a timeout: the first to expire breaks the
 * barrier (-ETIMEDOUT), the rest are told it is broken; all in time. */
static void test_timeouts_race(void **state)
{
    struct one *o = shm_zalloc(sizeof *o);
    struct workers w;
    int64_t t0 = weft_now_ms();
    int i, timed_out = 0, broken = 0;

    o->timeout_ms = 80;
    assert_int_equal(weft_barrier_create(&o->b, NULL, 5), 0);
    workers_start(&w, false, 4, wait_worker, o);
    for (i = 0; i < 4; i++) {
        int rc = workers_join(&w, i, 3000);
        timed_out += rc == -ETIMEDOUT;
        broken += rc == WEFT_EBROKEN;
    }
    assert_int_equal(timed_out, 1);
    assert_int_equal(timed_out + broken, 4);
    assert_true(weft_now_ms() - t0 < 2500);
    assert_int_equal(weft_barrier_broken(o->b), 1);
    assert_int_equal(weft_barrier_destroy(o->b), 0);
}

/* ---- A party killed while waiting ------------------------------------------
 */

static void test_killed_party(void **state)
{
    struct one *o = shm_zalloc(sizeof *o);
    struct workers w;

    o->timeout_ms = 5000;
    assert_int_equal(weft_barrier_create(&o->b, WEFT_SHARED, 3), 0);
    workers_start(&w, true, 2, wait_worker, o);
    all_sleeping(&w, 2);
    worker_kill(&w, 0);
    /* It had arrived: the barrier fills with this caller (documented). */
    assert_int_equal(weft_barrier_n_waiting(o->b), 2);
    assert_int_equal(weft_barrier_wait(o->b, 3000), 0);
    assert_true(workers_join(&w, 1, 3000) > 0);
    assert_int_equal(weft_barrier_broken(o->b), 0);
    assert_int_equal(weft_barrier_n_waiting(o->b), 0);
    /* The dead party stays counted as inside wait (documented): destroy
     * would say -EBUSY, so the object is left in the arena. */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_one_party),
        cmocka_unit_test(test_distinct_threads),
        cmocka_unit_test(test_distinct_processes),
        cmocka_unit_test(test_surplus_threads),
        cmocka_unit_test(test_timeout_breaks_threads),
        cmocka_unit_test(test_timeout_breaks_processes),
        cmocka_unit_test(test_abort_reset_threads),
        cmocka_unit_test(test_abort_reset_processes),
        cmocka_unit_test(test_timeouts_race),
        cmocka_unit_test(test_killed_party),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
