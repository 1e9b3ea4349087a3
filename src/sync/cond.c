/* cond.c - weft_cond: a condition variable bound to a weft_lock
 * (threading.Condition), for threads and processes, built on a futex
 * sequence counter and notification tokens.
 *
 * State, all changed only by a caller holding the lock:
 *   waiters  callers registered in wait() that have not returned;
 *   tokens   notifications granted and not yet taken: notify(n) grants
 *            k = min(n, waiters - tokens), so that never more tokens are
 *            pending than there are waiters to take them;
 *   seq      the futex word, bumped by every notify that grants a token.
 *
 * A waiter, under the lock, registers and reads seq; it releases the lock
 * and sleeps while seq still holds that value. notify(n), under the lock,
 * grants its k tokens, bumps seq and wakes k sleepers. A woken waiter
 * takes the lock back and takes a token if one is pending (it was
 * notified: return 0); if none is left (another waiter took it first) it
 * reads seq again and goes back to sleep. So exactly as many waiters return
 * "notified" as notify() asked for, and a waiter that went to sleep before
 * a notify is never left asleep while a token for it is pending: every
 * granted token has a woken (or not yet sleeping) waiter that will look.
 * Which waiters get the tokens is the kernel's wake order (FIFO among
 * equal priorities), not Python's strict FIFO: a waiter woken by a later
 * notify may take a token before one woken by an earlier notify does.
 *
 * Timeouts: a waiter whose deadline passes takes the lock back and still
 * takes a pending token if there is one - it was notified, and leaving the
 * token would let a later waiter return early - else it unregisters and
 * returns -ETIMEDOUT. Signals and spurious wake-ups with seq unchanged go
 * straight back to sleep without touching the lock.
 *
 * Lost wake-ups cannot happen: seq is read under the lock and notify
 * changes it under the lock, so a waiter that released the lock before the
 * notify either sleeps already (and is woken) or finds seq changed when the
 * kernel compares it.
 *
 * A waiter killed while waiting stays counted in `waiters` (and, if it was
 * killed after a notify chose it, leaves its token pending): a later
 * notify may grant a token nobody is asleep for, and a later waiter may
 * take a stale token and return early once, as after a spurious wake-up.
 * Nobody is blocked; destroy answers -EBUSY from then on.
 *
 * The lock: a condition made with lock NULL embeds its own. A given lock
 * must have the condition's placement; in shared memory the condition
 * keeps the lock's distance from itself, which is the same in every
 * process mapping the arena.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>

#include "sync/lock_int.h"
#include "sync/sync_int.h"

#include <weft/sync.h>

struct weft_cond {
    _Atomic uint32_t seq;     /* futex word: bumped by granting notifies */
    _Atomic uint32_t waiters; /* registered waiters (under the lock) */
    _Atomic uint32_t tokens;  /* granted, not yet taken (under the lock) */
    bool shared;              /* placed in an arena: shared futexes */
    bool own_lock;            /* the lock is `embedded` below */
    int64_t lock_rel;         /* (char *)lock - (char *)cond */
    struct weft_lock embedded;
};

static weft_lock *cond_lock(weft_cond *c)
{
    /* Through uintptr_t: the lock is in general another object, where
     * pointer subtraction would not be defined. */
    return (weft_lock *)((uintptr_t)c + (uintptr_t)c->lock_rel);
}

/* Whether lock may serve a condition placed at where: same kind of
 * memory, and for shared memory the same arena (the stored distance must
 * mean the same thing in every process). */
static bool same_placement(weft_lock *lock, weft_arena *where)
{
    if (!where)
        return !weft__lock_shared(lock);
    if (!weft__lock_shared(lock))
        return false;
    if (where == WEFT_SHARED)
        where = weft_arena_default();
    return where && weft_arena_offset(where, lock) != 0;
}

int weft_cond_create(weft_cond **out, weft_arena *where, weft_lock *lock)
{
    weft_cond *c;
    bool shared;
    int rc;

    if (!out)
        return -EINVAL;
    *out = NULL;
    if (lock && !same_placement(lock, where))
        return -EINVAL;
    rc = weft__place(where, sizeof *c, (void **)&c, &shared);
    if (rc < 0)
        return rc;
    atomic_init(&c->seq, 0);
    atomic_init(&c->waiters, 0);
    atomic_init(&c->tokens, 0);
    c->shared = shared;
    if (!lock) {
        rc = weft__lock_init(&c->embedded, shared);
        if (rc < 0) {
            weft__unplace(c, shared);
            return rc;
        }
        c->own_lock = true;
        lock = &c->embedded;
    }
    c->lock_rel = (int64_t)((uintptr_t)lock - (uintptr_t)c);
    *out = c;
    return 0;
}

weft_lock *weft_cond_lock(weft_cond *c)
{
    return c ? cond_lock(c) : NULL;
}

/* The body of wait() and wait_for(): the caller holds the lock (checked),
 * timeout 0 has been handled. Returns 0 (notified), -ETIMEDOUT, or
 * WEFT_OWNERDEAD (the lock came back from a dead holder, notified or not);
 * a negative error from the lock itself leaves the lock not held. */
static int wait_until(weft_cond *c, weft_lock *lock, weft_deadline deadline)
{
    uint32_t seq;
    bool dead = false;
    int rc, lrc;

    atomic_fetch_add_explicit(&c->waiters, 1, memory_order_relaxed);
    seq = atomic_load(&c->seq);
    for (;;) {
        weft_lock_release(lock);
        do {
            rc = weft__futex_wait(&c->seq, seq, c->shared, deadline);
            /* A signal, or a wake-up with seq unchanged (nobody notified
             * since we looked): sleep on without the lock. */
        } while ((rc == -EINTR || rc == 0) && atomic_load(&c->seq) == seq);
        /* Python takes the lock back whatever it takes; so do we. */
        lrc = weft_lock_acquire(lock, -1);
        if (lrc < 0) {
            /* Cannot happen with a valid lock; leave the books straight
             * as far as we can without it. */
            atomic_fetch_sub(&c->waiters, 1);
            return lrc;
        }
        if (lrc == WEFT_OWNERDEAD)
            dead = true;
        if (atomic_load_explicit(&c->tokens, memory_order_relaxed) > 0) {
            atomic_fetch_sub_explicit(&c->tokens, 1, memory_order_relaxed);
            rc = 0;
            break;
        }
        if (rc < 0 && rc != -EINTR)
            break; /* -ETIMEDOUT, with no token for us */
        /* Woken, but other waiters took the tokens: wait for the next. */
        seq = atomic_load(&c->seq);
    }
    atomic_fetch_sub_explicit(&c->waiters, 1, memory_order_relaxed);
    return dead ? WEFT_OWNERDEAD : rc;
}

int weft_cond_wait(weft_cond *c, int timeout_ms)
{
    weft_lock *lock;

    if (!c)
        return -EINVAL;
    lock = cond_lock(c);
    if (!weft__lock_held_by_me(lock))
        return -EPERM;
    if (timeout_ms == 0)
        return -EAGAIN; /* nobody can notify us while we hold the lock */
    return wait_until(c, lock, weft_deadline_in(timeout_ms));
}

int weft_cond_wait_for(weft_cond *c, bool (*pred)(void *arg), void *arg,
                       int timeout_ms)
{
    weft_deadline deadline = weft_deadline_in(timeout_ms);
    weft_lock *lock;
    int rc;

    if (!c || !pred)
        return -EINVAL;
    lock = cond_lock(c);
    if (!weft__lock_held_by_me(lock))
        return -EPERM;
    while (!pred(arg)) {
        if (timeout_ms == 0)
            return -EAGAIN;
        rc = wait_until(c, lock, deadline);
        /* A dead holder may have left the state half-changed: the caller
         * has to see that before trusting the predicate. */
        if (rc == WEFT_OWNERDEAD || (rc < 0 && rc != -ETIMEDOUT))
            return rc;
        if (rc == -ETIMEDOUT)
            return pred(arg) ? 0 : -ETIMEDOUT;
    }
    return 0;
}

int weft_cond_notify(weft_cond *c, int n)
{
    uint32_t waiting, k;

    if (!c)
        return -EINVAL;
    if (n < 0)
        return -EINVAL;
    if (!weft__lock_held_by_me(cond_lock(c)))
        return -EPERM;
    waiting = atomic_load_explicit(&c->waiters, memory_order_relaxed);
    k = atomic_load_explicit(&c->tokens, memory_order_relaxed);
    waiting = waiting > k ? waiting - k : 0;
    k = (uint32_t)n < waiting ? (uint32_t)n : waiting;
    if (k == 0)
        return 0;
    atomic_fetch_add_explicit(&c->tokens, k, memory_order_relaxed);
    atomic_fetch_add(&c->seq, 1);
    weft__futex_wake(&c->seq, k > INT32_MAX ? INT32_MAX : (int)k, c->shared);
    return 0;
}

int weft_cond_notify_all(weft_cond *c)
{
    return weft_cond_notify(c, INT_MAX);
}

int weft_cond_destroy(weft_cond *c)
{
    int rc;

    if (!c)
        return 0;
    if (atomic_load(&c->waiters) > 0)
        return -EBUSY;
    if (c->own_lock) {
        rc = weft__lock_fini(&c->embedded);
        if (rc < 0)
            return rc;
    }
    weft__unplace(c, c->shared);
    return 0;
}
