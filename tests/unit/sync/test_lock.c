/* test_lock.c - weft_lock and weft_rlock between threads and between
 * processes: mutual exclusion under contention, every timeout path,
 * ownership errors, owner death (thread exit, SIGKILL), the scope macro. */
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <weft/weft.h>

/* ---- Helpers ------------------------------------------------------------ */

static void *shared_alloc(size_t n)
{
    void *p = NULL;

    assert_int_equal(weft_arena_alloc(weft_arena_default(), n, &p), 0);
    return p;
}

struct hold_arg {
    weft_lock *lock;
    int rc;
    int64_t waited_ms;
    int timeout_ms;
};

static void *try_in_thread(void *p)
{
    struct hold_arg *a = p;
    int64_t t0 = weft_now_ms();

    a->rc = weft_lock_acquire(a->lock, a->timeout_ms);
    a->waited_ms = weft_now_ms() - t0;
    if (a->rc >= 0)
        weft_lock_release(a->lock);
    return NULL;
}

static void *release_in_thread(void *p)
{
    struct hold_arg *a = p;

    a->rc = weft_lock_release(a->lock);
    return NULL;
}

static int run_in_thread(void *(*fn)(void *), struct hold_arg *a)
{
    pthread_t t;

    assert_int_equal(pthread_create(&t, NULL, fn, a), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    return a->rc;
}

/* ---- Basic behaviour, both placements ---------------------------------- */

static void check_basics(weft_arena *where)
{
    struct hold_arg a;
    weft_lock *l;

    assert_int_equal(weft_lock_create(&l, where), 0);
    assert_int_equal(weft_lock_locked(l), 0);
    assert_int_equal(weft_lock_release(l), -EPERM); /* not held */
    assert_int_equal(weft_lock_acquire(l, -1), 0);
    assert_int_equal(weft_lock_locked(l), 1);
    assert_int_equal(weft_lock_acquire(l, 0), -EDEADLK);
    assert_int_equal(weft_lock_acquire(l, 100), -EDEADLK);
    assert_int_equal(weft_lock_destroy(l), -EBUSY);

    memset(&a, 0, sizeof a);
    a.lock = l;
    a.timeout_ms = 0;
    assert_int_equal(run_in_thread(try_in_thread, &a), -EAGAIN);
    a.timeout_ms = 100;
    assert_int_equal(run_in_thread(try_in_thread, &a), -ETIMEDOUT);
    assert_in_range(a.waited_ms, 95, 2000);
    assert_int_equal(run_in_thread(release_in_thread, &a), -EPERM);

    assert_int_equal(weft_lock_release(l), 0);
    assert_int_equal(weft_lock_locked(l), 0);
    a.timeout_ms = 0;
    assert_int_equal(run_in_thread(try_in_thread, &a), 0);
    assert_int_equal(weft_lock_acquire(l, 0), 0);
    assert_int_equal(weft_lock_release(l), 0);
    assert_int_equal(weft_lock_destroy(l), 0);
}

static void test_basics_private(void **state)
{
    (void)state;
    check_basics(NULL);
}

static void test_basics_shared(void **state)
{
    (void)state;
    check_basics(WEFT_SHARED);
}

static void test_bad_input(void **state)
{
    (void)state;
    assert_int_equal(weft_lock_create(NULL, NULL), -EINVAL);
    assert_int_equal(weft_lock_acquire(NULL, 0), -EINVAL);
    assert_int_equal(weft_lock_release(NULL), -EINVAL);
    assert_int_equal(weft_lock_destroy(NULL), 0);
    assert_int_equal(weft_rlock_create(NULL, NULL), -EINVAL);
    assert_int_equal(weft_rlock_acquire(NULL, 0), -EINVAL);
    assert_int_equal(weft_rlock_release(NULL), -EINVAL);
    assert_int_equal(weft_rlock_destroy(NULL), 0);
}

/* ---- Mutual exclusion under contention ---------------------------------- */

struct counter {
    weft_lock *lock;
    int64_t value; /* deliberately not atomic: the lock protects it */
    int inside;    /* holders at this instant: must never exceed 1 */
    int overlap;
    int rounds;
};

static void count_rounds(struct counter *c)
{
    int i;

    for (i = 0; i < c->rounds; i++) {
        assert_true(weft_lock_acquire(c->lock, -1) >= 0);
        if (++c->inside != 1)
            c->overlap = 1;
        c->value++;
        c->inside--;
        weft_lock_release(c->lock);
    }
}

static void *count_thread(void *p)
{
    count_rounds(p);
    return NULL;
}

static void test_exclusion_threads(void **state)
{
    struct counter c = {0};
    pthread_t t[8];
    int i;

    (void)state;
    assert_int_equal(weft_lock_create(&c.lock, NULL), 0);
    c.rounds = 50000;
    for (i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&t[i], NULL, count_thread, &c), 0);
    for (i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(c.value, 8 * 50000);
    assert_int_equal(c.overlap, 0);
    assert_int_equal(weft_lock_destroy(c.lock), 0);
}

static void exclusion_processes(int nprocs, int nthreads)
{
    struct counter *c = shared_alloc(sizeof *c);
    pid_t pids[8];
    int i, status;

    assert_int_equal(weft_lock_create(&c->lock, WEFT_SHARED), 0);
    c->rounds = 20000;
    for (i = 0; i < nprocs; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            pthread_t t[4];
            int j;
            for (j = 0; j < nthreads; j++)
                pthread_create(&t[j], NULL, count_thread, c);
            count_rounds(c);
            for (j = 0; j < nthreads; j++)
                pthread_join(t[j], NULL);
            _exit(0);
        }
    }
    for (i = 0; i < nprocs; i++) {
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_int_equal(status, 0);
    }
    assert_int_equal(c->value, (int64_t)nprocs * (1 + nthreads) * 20000);
    assert_int_equal(c->overlap, 0);
    assert_int_equal(weft_lock_destroy(c->lock), 0);
    weft_arena_free(c);
}

static void test_exclusion_processes(void **state)
{
    (void)state;
    exclusion_processes(2, 0);
    exclusion_processes(8, 0);
    exclusion_processes(4, 2); /* processes and threads together */
}

/* ---- Owner death --------------------------------------------------------- */

static void *take_and_exit(void *p)
{
    weft_lock *l = p;

    weft_lock_acquire(l, -1);
    return NULL; /* ends holding it */
}

static void *wait_for_lock(void *p)
{
    struct hold_arg *a = p;

    a->rc = weft_lock_acquire(a->lock, 5000);
    if (a->rc >= 0)
        weft_lock_release(a->lock);
    return NULL;
}

static void test_thread_dies_holding(void **state)
{
    struct hold_arg a = {0};
    pthread_t t, w;
    weft_lock *l;

    (void)state;
    assert_int_equal(weft_lock_create(&l, NULL), 0);
    assert_int_equal(pthread_create(&t, NULL, take_and_exit, l), 0);
    pthread_join(t, NULL);
    assert_int_equal(weft_lock_acquire(l, 1000), WEFT_OWNERDEAD);
    assert_int_equal(weft_lock_release(l), 0);
    assert_int_equal(weft_lock_acquire(l, 0), 0); /* reported once */
    assert_int_equal(weft_lock_release(l), 0);

    /* A waiter already asleep when the holder ends is woken with it. */
    a.lock = l;
    assert_int_equal(weft_lock_acquire(l, -1), 0);
    weft_lock_release(l);
    assert_int_equal(pthread_create(&t, NULL, take_and_exit, l), 0);
    pthread_join(t, NULL);
    assert_int_equal(pthread_create(&w, NULL, wait_for_lock, &a), 0);
    pthread_join(w, NULL);
    assert_int_equal(a.rc, WEFT_OWNERDEAD);
    assert_int_equal(weft_lock_destroy(l), 0);
}

/* The holder is SIGKILLed holding the lock, 100 times: the next acquirer
 * always gets it, with WEFT_OWNERDEAD, and never hangs. */
static void test_process_killed_holding(void **state)
{
    weft_lock *l;
    int trial, fds[2], status;
    char c;

    (void)state;
    assert_int_equal(weft_lock_create(&l, WEFT_SHARED), 0);
    assert_int_equal(pipe(fds), 0);
    for (trial = 0; trial < 100; trial++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            if (weft_lock_acquire(l, -1) < 0 || write(fds[1], "x", 1) != 1)
                _exit(1);
            pause();
            _exit(0);
        }
        assert_int_equal(read(fds[0], &c, 1), 1);
        kill(pid, SIGKILL);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_int_equal(weft_lock_acquire(l, 5000), WEFT_OWNERDEAD);
        assert_int_equal(weft_lock_release(l), 0);
    }
    close(fds[0]);
    close(fds[1]);
    assert_int_equal(weft_lock_destroy(l), 0);
}

/* Killed at random instants while taking and releasing the lock in a
 * loop, with another process waiting: the survivors never hang. */
static void test_process_killed_anywhere(void **state)
{
    weft_lock *l;
    int trial, status, rc;

    (void)state;
    assert_int_equal(weft_lock_create(&l, WEFT_SHARED), 0);
    srand(42);
    for (trial = 0; trial < 100; trial++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            for (;;) {
                if (weft_lock_acquire(l, -1) >= 0)
                    weft_lock_release(l);
            }
        }
        usleep((useconds_t)(rand() % 2000));
        kill(pid, SIGKILL);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        rc = weft_lock_acquire(l, 5000);
        assert_true(rc == 0 || rc == WEFT_OWNERDEAD);
        assert_int_equal(weft_lock_release(l), 0);
    }
    assert_int_equal(weft_lock_destroy(l), 0);
}

/* A process asleep in acquire when the holder is killed gets the lock. */
static void test_waiter_woken_when_holder_killed(void **state)
{
    weft_lock *l;
    int *result = shared_alloc(sizeof *result);
    int fds[2], status;
    pid_t holder, waiter;
    char c;

    (void)state;
    assert_int_equal(weft_lock_create(&l, WEFT_SHARED), 0);
    assert_int_equal(pipe(fds), 0);
    holder = fork();
    if (holder == 0) {
        weft_lock_acquire(l, -1);
        if (write(fds[1], "h", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    assert_int_equal(read(fds[0], &c, 1), 1);
    *result = -1000;
    waiter = fork();
    if (waiter == 0) {
        *result = weft_lock_acquire(l, 10000);
        if (*result >= 0)
            weft_lock_release(l);
        _exit(0);
    }
    weft_sleep_ms(50); /* let it fall asleep */
    kill(holder, SIGKILL);
    waitpid(holder, &status, 0);
    assert_int_equal(waitpid(waiter, &status, 0), waiter);
    assert_int_equal(*result, WEFT_OWNERDEAD);
    close(fds[0]);
    close(fds[1]);
    assert_int_equal(weft_lock_destroy(l), 0);
    weft_arena_free(result);
}

/* ---- RLock ----------------------------------------------------------------
 */

static void *rlock_other(void *p)
{
    weft_rlock *r = p;
    intptr_t rc = weft_rlock_release(r) == -EPERM && weft_rlock_count(r) == 0 &&
                  weft_rlock_acquire(r, 0) == -EAGAIN;

    return (void *)rc;
}

static void check_rlock(weft_arena *where)
{
    weft_rlock *r;
    pthread_t t;
    void *ok;

    assert_int_equal(weft_rlock_create(&r, where), 0);
    assert_int_equal(weft_rlock_count(r), 0);
    assert_int_equal(weft_rlock_release(r), -EPERM);
    assert_int_equal(weft_rlock_acquire(r, -1), 0);
    assert_int_equal(weft_rlock_acquire(r, 0), 0);
    assert_int_equal(weft_rlock_acquire(r, 100), 0);
    assert_int_equal(weft_rlock_count(r), 3);
    assert_int_equal(pthread_create(&t, NULL, rlock_other, r), 0);
    pthread_join(t, &ok);
    assert_true(ok != NULL);
    assert_int_equal(weft_rlock_destroy(r), -EBUSY);
    assert_int_equal(weft_rlock_release(r), 0);
    assert_int_equal(weft_rlock_release(r), 0);
    assert_int_equal(weft_rlock_count(r), 1);
    assert_int_equal(weft_rlock_release(r), 0);
    assert_int_equal(weft_rlock_count(r), 0);
    assert_int_equal(weft_rlock_release(r), -EPERM);
    assert_int_equal(weft_rlock_destroy(r), 0);
}

static void test_rlock_private(void **state)
{
    (void)state;
    check_rlock(NULL);
}

static void test_rlock_shared(void **state)
{
    (void)state;
    check_rlock(WEFT_SHARED);
}

static void test_rlock_killed_holder(void **state)
{
    weft_rlock *r;
    int fds[2], status;
    pid_t pid;
    char c;

    (void)state;
    assert_int_equal(weft_rlock_create(&r, WEFT_SHARED), 0);
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    if (pid == 0) {
        weft_rlock_acquire(r, -1);
        weft_rlock_acquire(r, -1);
        if (write(fds[1], "x", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    assert_int_equal(read(fds[0], &c, 1), 1);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    assert_int_equal(weft_rlock_acquire(r, 5000), WEFT_OWNERDEAD);
    assert_int_equal(weft_rlock_count(r), 1); /* the dead count is gone */
    assert_int_equal(weft_rlock_release(r), 0);
    assert_int_equal(weft_rlock_count(r), 0);
    close(fds[0]);
    close(fds[1]);
    assert_int_equal(weft_rlock_destroy(r), 0);
}

/* ---- The scope macro ----------------------------------------------------- */

static int leave_by_return(weft_lock *l)
{
    WEFT_WITH_LOCK(l)
    {
        if (weft_lock_locked(l))
            return 7;
    }
    return 0;
}

static void test_with_lock(void **state)
{
    weft_lock *l, *m;
    int i, runs = 0;

    (void)state;
    assert_int_equal(weft_lock_create(&l, NULL), 0);
    assert_int_equal(weft_lock_create(&m, NULL), 0);
    WEFT_WITH_LOCK(l)
    {
        runs++;
        assert_int_equal(weft_lock_locked(l), 1);
    }
    assert_int_equal(runs, 1);
    assert_int_equal(weft_lock_locked(l), 0);

    for (i = 0; i < 3; i++) {
        WEFT_WITH_LOCK(l)
        {
            if (i == 0)
                continue; /* leaves the scope: released */
            if (i == 1)
                break; /* leaves the scope: released */
        }
        assert_int_equal(weft_lock_locked(l), 0);
    }
    for (i = 0; i < 3; i++) {
        WEFT_WITH_LOCK(l)
        {
            if (i == 1)
                break;
        }
    }
    assert_int_equal(weft_lock_locked(l), 0);

    assert_int_equal(leave_by_return(l), 7);
    assert_int_equal(weft_lock_locked(l), 0);

    WEFT_WITH_LOCK(l)
    {
        if (weft_lock_locked(l))
            goto out;
    }
out:
    assert_int_equal(weft_lock_locked(l), 0);

    /* Nested, two locks; and a lock already held: the block is skipped. */
    runs = 0;
    WEFT_WITH_LOCK(l)
    {
        WEFT_WITH_LOCK(m)
        {
            runs++;
        }
        WEFT_WITH_LOCK(l)
        {
            runs += 100; /* -EDEADLK: never runs */
        }
    }
    assert_int_equal(runs, 1);
    assert_int_equal(weft_lock_locked(l), 0);
    assert_int_equal(weft_lock_locked(m), 0);
    assert_int_equal(weft_lock_destroy(l), 0);
    assert_int_equal(weft_lock_destroy(m), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basics_private),
        cmocka_unit_test(test_basics_shared),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_exclusion_threads),
        cmocka_unit_test(test_exclusion_processes),
        cmocka_unit_test(test_thread_dies_holding),
        cmocka_unit_test(test_process_killed_holding),
        cmocka_unit_test(test_process_killed_anywhere),
        cmocka_unit_test(test_waiter_woken_when_holder_killed),
        cmocka_unit_test(test_rlock_private),
        cmocka_unit_test(test_rlock_shared),
        cmocka_unit_test(test_rlock_killed_holder),
        cmocka_unit_test(test_with_lock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
