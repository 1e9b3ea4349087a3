/* event.c - weft_event: a flag that threads or processes wait on until it
 * is set (threading.Event).
 *
 * Waiters sleep on `seq`, a counter that every set turning the flag on
 * increments; they never sleep on the flag itself. A waiter reads seq when
 * it starts and returns as soon as seq differs from that reading (or it
 * finds the flag set), so a set() that is followed at once by clear() still
 * releases everybody who was waiting then - as in Python, where wait()
 * returns True to the waiters a set() notified even if the flag was
 * cleared before they ran.
 *
 * Why no lost wake-up: a waiter registers in `waiters`, then reads seq,
 * then the flag; set() changes the flag, then seq, then reads `waiters`
 * (all sequentially consistent). If set() saw no waiter, the waiter's
 * reads come after set()'s writes and it returns without sleeping; if the
 * waiter read the old seq, the kernel's compare in futex_wait sees the new
 * one, or the wake finds the sleeper.
 *
 * A waiter killed while waiting leaves `waiters` one too high: every later
 * set() makes one futex_wake call more than needed, and destroy answers
 * -EBUSY from then on. Nobody else is affected.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>

#include "sync/sync_int.h"

#include <weft/sync.h>

struct weft_event {
    _Atomic uint32_t flag;    /* 1 set, 0 clear */
    _Atomic uint32_t seq;     /* bumped when the flag goes 0 -> 1; futex */
    _Atomic uint32_t waiters; /* callers inside wait */
    bool shared;              /* placed in an arena: shared futexes */
};

int weft_event_create(weft_event **out, weft_arena *where)
{
    weft_event *e;
    bool shared;
    int rc;

    if (!out)
        return -EINVAL;
    *out = NULL;
    rc = weft__place(where, sizeof *e, (void **)&e, &shared);
    if (rc < 0)
        return rc;
    atomic_init(&e->flag, 0);
    atomic_init(&e->seq, 0);
    atomic_init(&e->waiters, 0);
    e->shared = shared;
    *out = e;
    return 0;
}

int weft_event_set(weft_event *e)
{
    if (!e)
        return -EINVAL;
    /* Already set: nobody can be asleep waiting for it (they return at
     * once), so there is nothing to announce. */
    if (atomic_exchange(&e->flag, 1) != 0)
        return 0;
    atomic_fetch_add(&e->seq, 1);
    if (atomic_load(&e->waiters) > 0)
        weft__futex_wake(&e->seq, INT32_MAX, e->shared);
    return 0;
}

int weft_event_clear(weft_event *e)
{
    if (!e)
        return -EINVAL;
    atomic_store(&e->flag, 0);
    return 0;
}

int weft_event_is_set(weft_event *e)
{
    if (!e)
        return -EINVAL;
    return atomic_load(&e->flag) != 0;
}

int weft_event_wait(weft_event *e, int timeout_ms)
{
    weft_deadline deadline;
    uint32_t seq;
    int rc;

    if (!e)
        return -EINVAL;
    if (atomic_load(&e->flag))
        return 0;
    if (timeout_ms == 0)
        return -EAGAIN;
    deadline = weft_deadline_in(timeout_ms);
    atomic_fetch_add(&e->waiters, 1);
    seq = atomic_load(&e->seq);
    for (;;) {
        if (atomic_load(&e->flag) || atomic_load(&e->seq) != seq) {
            rc = 0;
            break;
        }
        rc = weft__futex_wait(&e->seq, seq, e->shared, deadline);
        if (rc < 0 && rc != -EINTR) {
            /* A set() racing the deadline still counts. */
            if (atomic_load(&e->flag) || atomic_load(&e->seq) != seq)
                rc = 0;
            break;
        }
    }
    atomic_fetch_sub(&e->waiters, 1);
    return rc;
}

int weft_event_destroy(weft_event *e)
{
    if (!e)
        return 0;
    if (atomic_load(&e->waiters) > 0)
        return -EBUSY;
    weft__unplace(e, e->shared);
    return 0;
}
