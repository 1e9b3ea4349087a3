/* semaphore.c - weft_semaphore: a counting (optionally bounded) semaphore
 * for threads and processes, waiting on the count word itself.
 *
 * The count lives in one atomic word. Taking a unit is a compare-exchange
 * that decrements it while it is above zero; a caller that finds it at zero
 * registers in `waiters` and sleeps on the count word while it reads 0.
 * Giving a unit back increments the count and, only when somebody is
 * registered, wakes one sleeper (who retries the compare-exchange and, if
 * somebody else was faster, sleeps again: no unit is ever lost, since every
 * increment that found a sleeper woke one).
 *
 * Why no lost wake-up: the waiter increments `waiters` before the kernel
 * compares the count with 0, and the releaser increments the count before
 * it reads `waiters` (both sequentially consistent). Either the releaser
 * sees the waiter, or the waiter's futex_wait sees the new count and does
 * not sleep.
 *
 * A waiter killed while sleeping leaves `waiters` one too high: releases
 * then make a futex_wake call that finds nobody (the kernel already took
 * the dead sleeper off its queue, so the wake goes to a live one), and
 * destroy answers -EBUSY from then on. A holder that dies keeps its unit,
 * as with POSIX and Python semaphores.
 */
#include <errno.h>
#include <stdint.h>

#include "sync/sync_int.h"

#include <weft/sync.h>

struct weft_semaphore {
    _Atomic uint32_t count;   /* the units; the futex word */
    _Atomic uint32_t waiters; /* callers registered to sleep in acquire */
    uint32_t limit;           /* release above this fails: -EOVERFLOW */
    bool shared;              /* placed in an arena: shared futexes */
};

static int create(weft_semaphore **out, weft_arena *where, int value,
                  bool bounded)
{
    weft_semaphore *s;
    bool shared;
    int rc;

    if (!out)
        return -EINVAL;
    *out = NULL;
    if (value < 0)
        return -EINVAL;
    rc = weft__place(where, sizeof *s, (void **)&s, &shared);
    if (rc < 0)
        return rc;
    atomic_init(&s->count, (uint32_t)value);
    atomic_init(&s->waiters, 0);
    s->limit = bounded ? (uint32_t)value : (uint32_t)INT32_MAX;
    s->shared = shared;
    *out = s;
    return 0;
}

int weft_semaphore_create(weft_semaphore **out, weft_arena *where, int value)
{
    return create(out, where, value, false);
}

int weft_semaphore_create_bounded(weft_semaphore **out, weft_arena *where,
                                  int value)
{
    return create(out, where, value, true);
}

/* One unit if there is one: true when taken. */
static bool try_take(weft_semaphore *s)
{
    uint32_t c = atomic_load(&s->count);

    while (c > 0) {
        if (atomic_compare_exchange_weak(&s->count, &c, c - 1))
            return true;
    }
    return false;
}

int weft_semaphore_acquire(weft_semaphore *s, int timeout_ms)
{
    weft_deadline deadline;
    int rc;

    if (!s)
        return -EINVAL;
    if (try_take(s))
        return 0;
    if (timeout_ms == 0)
        return -EAGAIN;
    deadline = weft_deadline_in(timeout_ms);
    atomic_fetch_add(&s->waiters, 1);
    for (;;) {
        /* Sleeps only while the count still reads 0. */
        rc = weft__futex_wait(&s->count, 0, s->shared, deadline);
        if (try_take(s)) {
            rc = 0; /* a unit came with (or just after) the timeout */
            break;
        }
        if (rc < 0 && rc != -EINTR)
            break; /* -ETIMEDOUT */
        /* Woken but beaten to the unit, a signal, or a spurious wake-up:
         * sleep again against the same deadline. */
    }
    atomic_fetch_sub(&s->waiters, 1);
    return rc;
}

int weft_semaphore_release(weft_semaphore *s)
{
    uint32_t c;

    if (!s)
        return -EINVAL;
    c = atomic_load(&s->count);
    do {
        if (c >= s->limit)
            return -EOVERFLOW;
    } while (!atomic_compare_exchange_weak(&s->count, &c, c + 1));
    if (atomic_load(&s->waiters) > 0)
        weft__futex_wake(&s->count, 1, s->shared);
    return 0;
}

int weft_semaphore_value(weft_semaphore *s)
{
    if (!s)
        return -EINVAL;
    return (int)atomic_load(&s->count);
}

int weft_semaphore_destroy(weft_semaphore *s)
{
    if (!s)
        return 0;
    if (atomic_load(&s->waiters) > 0)
        return -EBUSY;
    weft__unplace(s, s->shared);
    return 0;
}
