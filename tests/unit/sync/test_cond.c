/* test_cond.c - weft_cond between threads (private placement) and between
 * processes (WEFT_SHARED): notify(1) wakes exactly one waiter and
 * notify_all every one, wait_for with one overall deadline, every timeout
 * path, -EPERM without the lock, placement checks, destroy while waited
 * on, a waiter killed by SIGKILL, a notifier that dies holding the lock
 * (WEFT_OWNERDEAD), and a bounded buffer under load. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <weft/weft.h>

#include "unit/sync/sync_helpers.h"

/* ---- Basics, timeouts, errors ------------------------------------------- */

static void basics(bool procs)
{
    weft_cond *c;
    weft_lock *l;
    int64_t t0, dt;

    assert_int_equal(weft_cond_create(&c, placement(procs), NULL), 0);
    l = weft_cond_lock(c);
    assert_non_null(l);
    /* Without the lock. */
    assert_int_equal(weft_cond_wait(c, 0), -EPERM);
    assert_int_equal(weft_cond_wait(c, 10), -EPERM);
    assert_int_equal(weft_cond_notify(c, 1), -EPERM);
    assert_int_equal(weft_cond_notify_all(c), -EPERM);

    assert_int_equal(weft_lock_acquire(l, -1), 0);
    assert_int_equal(weft_cond_wait(c, 0), -EAGAIN);
    t0 = weft_now_ms();
    assert_int_equal(weft_cond_wait(c, 60), -ETIMEDOUT);
    dt = weft_now_ms() - t0;
    assert_true(dt >= 55 && dt < 2000);
    assert_int_equal(weft_lock_locked(l), 1);
    assert_int_equal(weft_cond_notify(c, -1), -EINVAL);
    assert_int_equal(weft_cond_notify(c, 0), 0);
    assert_int_equal(weft_cond_notify(c, 5), 0); /* nobody waits */
    assert_int_equal(weft_cond_notify_all(c), 0);
    /* Notifications given to nobody are not kept for later waiters. */
    assert_int_equal(weft_cond_wait(c, 30), -ETIMEDOUT);
    /* Still held after every wait: releasing works exactly once. */
    assert_int_equal(weft_lock_release(l), 0);
    assert_int_equal(weft_lock_release(l), -EPERM);
    assert_int_equal(weft_cond_destroy(c), 0);
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
    weft_cond *c = (weft_cond *)&c;
    weft_lock *priv, *shared;

    assert_int_equal(weft_cond_create(NULL, NULL, NULL), -EINVAL);
    assert_int_equal(weft_cond_wait(NULL, 0), -EINVAL);
    assert_int_equal(weft_cond_notify(NULL, 1), -EINVAL);
    assert_int_equal(weft_cond_notify_all(NULL), -EINVAL);
    assert_null(weft_cond_lock(NULL));
    assert_int_equal(weft_cond_destroy(NULL), 0);

    /* A given lock must have the condition's placement. */
    assert_int_equal(weft_lock_create(&priv, NULL), 0);
    assert_int_equal(weft_lock_create(&shared, WEFT_SHARED), 0);
    assert_int_equal(weft_cond_create(&c, WEFT_SHARED, priv), -EINVAL);
    assert_null(c);
    assert_int_equal(weft_cond_create(&c, NULL, shared), -EINVAL);
    assert_null(c);

    /* A condition on a given lock leaves the lock alone when destroyed. */
    assert_int_equal(weft_cond_create(&c, WEFT_SHARED, shared), 0);
    assert_ptr_equal(weft_cond_lock(c), shared);
    assert_int_equal(weft_lock_acquire(shared, 0), 0);
    assert_int_equal(weft_cond_wait_for(c, NULL, NULL, 0), -EINVAL);
    assert_int_equal(weft_lock_release(shared), 0);
    assert_int_equal(weft_cond_destroy(c), 0);
    assert_int_equal(weft_cond_create(&c, NULL, priv), 0);
    assert_ptr_equal(weft_cond_lock(c), priv);
    assert_int_equal(weft_cond_destroy(c), 0);
    assert_int_equal(weft_lock_acquire(priv, 0), 0);
    assert_int_equal(weft_lock_release(priv), 0);
    assert_int_equal(weft_lock_destroy(priv), 0);
    assert_int_equal(weft_lock_destroy(shared), 0);

    /* The condition's own lock cannot be destroyed on its own. */
    assert_int_equal(weft_cond_create(&c, NULL, NULL), 0);
    assert_int_not_equal(weft_lock_destroy(weft_cond_lock(c)), 0);
    assert_int_equal(weft_cond_destroy(c), 0);
}

/* ---- notify(1) wakes exactly one, notify_all all ------------------------ */

struct waiters {
    weft_cond *c;
    _Atomic int registered; /* changed under the lock, before waiting */
    _Atomic int woken;
    int timeout_ms;
};

static int wait_once(void *p, int i)
{
    struct waiters *s = p;
    int rc;

    if (weft_lock_acquire(weft_cond_lock(s->c), -1) < 0)
        return -1000;
    atomic_fetch_add(&s->registered, 1);
    rc = weft_cond_wait(s->c, s->timeout_ms);
    if (rc == 0)
        atomic_fetch_add(&s->woken, 1);
    if (weft_lock_release(weft_cond_lock(s->c)) != 0)
        return -1001;
    return rc;
}

/* Wait until n waiters have registered and all sleep. */
static void all_asleep(struct waiters *s, struct workers *w, int n)
{
    int64_t end = weft_now_ms() + 3000;
    int i;

    while (atomic_load(&s->registered) < n && weft_now_ms() < end)
        usleep(1000);
    assert_int_equal(atomic_load(&s->registered), n);
    for (i = 0; i < w->n; i++)
        if (!worker_done(w, i))
            assert_true(worker_sleeping(w, i, 3000));
}

static void notify_locked(weft_cond *c, int n)
{
    assert_int_equal(weft_lock_acquire(weft_cond_lock(c), -1), 0);
    if (n < 0)
        assert_int_equal(weft_cond_notify_all(c), 0);
    else
        assert_int_equal(weft_cond_notify(c, n), 0);
    assert_int_equal(weft_lock_release(weft_cond_lock(c)), 0);
}

/* The number woken stays at want for a while (nobody extra wakes). */
static int woken_settles(struct waiters *s, int want)
{
    int64_t end = weft_now_ms() + 3000;

    while (atomic_load(&s->woken) < want && weft_now_ms() < end)
        usleep(1000);
    usleep(100 * 1000);
    return atomic_load(&s->woken);
}

static void notify_counts(bool procs)
{
    struct waiters *s = shm_zalloc(sizeof *s);
    struct workers w;
    int n = 5;

    s->timeout_ms = 5000;
    assert_int_equal(weft_cond_create(&s->c, placement(procs), NULL), 0);
    workers_start(&w, procs, n, wait_once, s);
    all_asleep(s, &w, n);
    assert_int_equal(weft_cond_destroy(s->c), -EBUSY);

    notify_locked(s->c, 1);
    assert_int_equal(woken_settles(s, 1), 1);
    notify_locked(s->c, 1);
    assert_int_equal(woken_settles(s, 2), 2);
    notify_locked(s->c, 2);
    assert_int_equal(woken_settles(s, 4), 4);
    notify_locked(s->c, -1); /* all: the one left */
    assert_int_equal(woken_settles(s, 5), 5);
    assert_int_equal(workers_join_all(&w, 0, 3000), n);
    assert_int_equal(weft_cond_destroy(s->c), 0);
}

static void test_notify_counts_threads(void **state)
{
    notify_counts(false);
}

static void test_notify_counts_processes(void **state)
{
    notify_counts(true);
}

static void notify_all_wakes_all(bool procs)
{
    struct waiters *s = shm_zalloc(sizeof *s);
    struct workers w;
    int n = procs ? 6 : 10;

    s->timeout_ms = 5000;
    assert_int_equal(weft_cond_create(&s->c, placement(procs), NULL), 0);
    workers_start(&w, procs, n, wait_once, s);
    all_asleep(s, &w, n);
    notify_locked(s->c, -1);
    assert_int_equal(workers_join_all(&w, 0, 3000), n);
    assert_int_equal(atomic_load(&s->woken), n);
    assert_int_equal(weft_cond_destroy(s->c), 0);
}

static void test_notify_all_threads(void **state)
{
    notify_all_wakes_all(false);
}

static void test_notify_all_processes(void **state)
{
    notify_all_wakes_all(true);
}

/* Timed waiters that nobody notifies: each -ETIMEDOUT, in time, and the
 * condition is free again afterwards. */
static void test_timeouts_threads(void **state)
{
    struct waiters *s = shm_zalloc(sizeof *s);
    struct workers w;
    int64_t t0 = weft_now_ms();

    s->timeout_ms = 100;
    assert_int_equal(weft_cond_create(&s->c, NULL, NULL), 0);
    workers_start(&w, false, 4, wait_once, s);
    assert_int_equal(workers_join_all(&w, -ETIMEDOUT, 3000), 4);
    assert_true(weft_now_ms() - t0 >= 95);
    assert_true(weft_now_ms() - t0 < 2500);
    assert_int_equal(atomic_load(&s->woken), 0);
    assert_int_equal(weft_cond_destroy(s->c), 0);
}

/* ---- wait_for ----------------------------------------------------------- */

struct pred {
    weft_cond *c;
    _Atomic int value;
    _Atomic int calls;
    int target;
    int delay_ms; /* the notifier: after this, set value (or just nudge) */
    int nudges;   /* notify this many times without making it true */
};

static bool reached(void *arg)
{
    struct pred *p = arg;

    atomic_fetch_add(&p->calls, 1);
    return atomic_load(&p->value) >= p->target;
}

static int notifier(void *arg, int i)
{
    struct pred *p = arg;
    weft_lock *l = weft_cond_lock(p->c);
    int k;

    for (k = 0; k < p->nudges; k++) {
        weft_sleep_ms(p->delay_ms);
        weft_lock_acquire(l, -1);
        weft_cond_notify_all(p->c);
        weft_lock_release(l);
    }
    if (p->nudges == 0) {
        weft_sleep_ms(p->delay_ms);
        weft_lock_acquire(l, -1);
        atomic_store(&p->value, p->target);
        weft_cond_notify(p->c, 1);
        weft_lock_release(l);
    }
    return 0;
}

static void test_wait_for(void **state)
{
    struct pred *p = shm_zalloc(sizeof *p);
    struct workers w;
    weft_lock *l;
    int64_t t0, dt;

    assert_int_equal(weft_cond_create(&p->c, NULL, NULL), 0);
    l = weft_cond_lock(p->c);
    p->target = 1;
    assert_int_equal(weft_cond_wait_for(p->c, reached, p, 0), -EPERM);

    assert_int_equal(weft_lock_acquire(l, -1), 0);
    /* False, timeout 0: checked once, no wait. */
    assert_int_equal(weft_cond_wait_for(p->c, reached, p, 0), -EAGAIN);
    assert_int_equal(atomic_load(&p->calls), 1);
    /* False, nobody notifies: the timeout. */
    t0 = weft_now_ms();
    assert_int_equal(weft_cond_wait_for(p->c, reached, p, 80), -ETIMEDOUT);
    dt = weft_now_ms() - t0;
    assert_true(dt >= 75 && dt < 2000);
    /* True already: no wait at all, even with no timeout. */
    atomic_store(&p->value, 1);
    atomic_store(&p->calls, 0);
    assert_int_equal(weft_cond_wait_for(p->c, reached, p, -1), 0);
    assert_int_equal(atomic_load(&p->calls), 1);
    atomic_store(&p->value, 0);

    /* Made true by another thread. */
    p->delay_ms = 30;
    p->nudges = 0;
    workers_start(&w, false, 1, notifier, p);
    t0 = weft_now_ms();
    assert_int_equal(weft_cond_wait_for(p->c, reached, p, 3000), 0);
    assert_true(weft_now_ms() - t0 < 2500);
    assert_int_equal(weft_lock_locked(l), 1);
    assert_int_equal(weft_lock_release(l), 0);
    assert_int_equal(workers_join(&w, 0, 3000), 0);

    /* Woken again and again while still false: one overall deadline, not
     * a fresh one per wake-up. */
    atomic_store(&p->value, 0);
    atomic_store(&p->calls, 0);
    p->delay_ms = 20;
    p->nudges = 15;
    assert_int_equal(weft_lock_acquire(l, -1), 0);
    workers_start(&w, false, 1, notifier, p);
    t0 = weft_now_ms();
    assert_int_equal(weft_cond_wait_for(p->c, reached, p, 150), -ETIMEDOUT);
    dt = weft_now_ms() - t0;
    assert_true(dt >= 145 && dt < 290);
    assert_true(atomic_load(&p->calls) >= 3);
    assert_int_equal(weft_lock_release(l), 0);
    assert_int_equal(workers_join(&w, 0, 3000), 0);
    assert_int_equal(weft_cond_destroy(p->c), 0);
}

/* ---- A waiter killed by SIGKILL ----------------------------------------- */

static void test_killed_waiter(void **state)
{
    struct waiters *s = shm_zalloc(sizeof *s);
    struct workers w;
    int n = 4;

    s->timeout_ms = 5000;
    assert_int_equal(weft_cond_create(&s->c, WEFT_SHARED, NULL), 0);
    workers_start(&w, true, n, wait_once, s);
    all_asleep(s, &w, n);
    worker_kill(&w, 2);
    /* Each notify(1) reaches a live waiter. */
    notify_locked(s->c, 1);
    assert_int_equal(woken_settles(s, 1), 1);
    notify_locked(s->c, 1);
    assert_int_equal(woken_settles(s, 2), 2);
    notify_locked(s->c, -1);
    assert_int_equal(woken_settles(s, 3), 3);
    assert_int_equal(workers_join_all(&w, 0, 3000), 3);
    /* The dead waiter stays counted (documented): leave the object. */
}

/* ---- The lock comes back from a dead holder ----------------------------- */

struct dier {
    weft_cond *c;
    bool die; /* a process: SIGKILL itself; a thread just ends */
};

/* Take the lock, notify, and die holding it. */
static int notify_and_die(void *arg, int i)
{
    struct dier *d = arg;

    if (weft_lock_acquire(weft_cond_lock(d->c), -1) < 0)
        return -1;
    weft_cond_notify(d->c, 1);
    if (d->die)
        raise(SIGKILL);
    return 0; /* a thread that ends holding a private lock */
}

static void owner_dead(bool procs)
{
    struct dier *d = shm_zalloc(sizeof *d);
    struct workers w;
    weft_lock *l;
    int rc;

    assert_int_equal(weft_cond_create(&d->c, placement(procs), NULL), 0);
    l = weft_cond_lock(d->c);
    assert_int_equal(weft_lock_acquire(l, -1), 0);
    d->die = procs;
    workers_start(&w, procs, 1, notify_and_die, d);
    rc = weft_cond_wait(d->c, 5000);
    assert_int_equal(rc, WEFT_OWNERDEAD);
    assert_int_equal(weft_lock_release(l), 0);
    workers_join(&w, 0, 3000);
    assert_int_equal(weft_cond_destroy(d->c), 0);
}

static void test_owner_dead_thread(void **state)
{
    owner_dead(false);
}

static void test_owner_dead_process(void **state)
{
    owner_dead(true);
}

/* ---- A bounded buffer under load ---------------------------------------- */

#define RING 8

struct buffer {
    weft_lock *lock;
    weft_cond *not_empty, *not_full;
    int items[RING];
    int head, count;
    int per_producer;
    _Atomic long sum;
    _Atomic int consumed;
    int total;
};

static int producer(void *arg, int i)
{
    struct buffer *b = arg;
    int k;

    for (k = 1; k <= b->per_producer; k++) {
        if (weft_lock_acquire(b->lock, -1) < 0)
            return -1;
        while (b->count == RING)
            if (weft_cond_wait(b->not_full, 5000) != 0)
                return -2;
        b->items[(b->head + b->count) % RING] = k;
        b->count++;
        weft_cond_notify(b->not_empty, 1);
        weft_lock_release(b->lock);
    }
    return 0;
}

static int consumer(void *arg, int i)
{
    struct buffer *b = arg;
    int v;

    for (;;) {
        if (weft_lock_acquire(b->lock, -1) < 0)
            return -1;
        while (b->count == 0 && atomic_load(&b->consumed) < b->total)
            if (weft_cond_wait(b->not_empty, 5000) != 0)
                return -2;
        if (b->count == 0) {
            weft_lock_release(b->lock);
            return 0;
        }
        v = b->items[b->head];
        b->head = (b->head + 1) % RING;
        b->count--;
        atomic_fetch_add(&b->sum, v);
        if (atomic_fetch_add(&b->consumed, 1) + 1 == b->total)
            weft_cond_notify_all(b->not_empty); /* the others can stop */
        weft_cond_notify(b->not_full, 1);
        weft_lock_release(b->lock);
    }
}

static int buffer_worker(void *arg, int i)
{
    return i < 4 ? producer(arg, i) : consumer(arg, i);
}

static void bounded_buffer(bool procs)
{
    struct buffer *b = shm_zalloc(sizeof *b);
    struct workers w;
    long want;

    b->per_producer = procs ? 2000 : 5000;
    if (UNDER_TSAN)
        b->per_producer /= 5;
    b->total = 4 * b->per_producer;
    want = 4L * b->per_producer * (b->per_producer + 1) / 2;
    assert_int_equal(weft_lock_create(&b->lock, placement(procs)), 0);
    assert_int_equal(weft_cond_create(&b->not_empty, placement(procs), b->lock),
                     0);
    assert_int_equal(weft_cond_create(&b->not_full, placement(procs), b->lock),
                     0);
    workers_start(&w, procs, 8, buffer_worker, b);
    assert_int_equal(workers_join_all(&w, 0, 20000), 8);
    assert_int_equal(atomic_load(&b->consumed), b->total);
    assert_true(atomic_load(&b->sum) == want);
    assert_int_equal(weft_cond_destroy(b->not_empty), 0);
    assert_int_equal(weft_cond_destroy(b->not_full), 0);
    assert_int_equal(weft_lock_destroy(b->lock), 0);
}

static void test_bounded_buffer_threads(void **state)
{
    bounded_buffer(false);
}

static void test_bounded_buffer_processes(void **state)
{
    bounded_buffer(true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basics_private),
        cmocka_unit_test(test_basics_shared),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_notify_counts_threads),
        cmocka_unit_test(test_notify_counts_processes),
        cmocka_unit_test(test_notify_all_threads),
        cmocka_unit_test(test_notify_all_processes),
        cmocka_unit_test(test_timeouts_threads),
        cmocka_unit_test(test_wait_for),
        cmocka_unit_test(test_killed_waiter),
        cmocka_unit_test(test_owner_dead_thread),
        cmocka_unit_test(test_owner_dead_process),
        cmocka_unit_test(test_bounded_buffer_threads),
        cmocka_unit_test(test_bounded_buffer_processes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
