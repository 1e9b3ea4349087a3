/* weft/sync.h - synchronization between threads and between processes:
 * Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition, Barrier -
 * Python's threading / multiprocessing family for C.
 *
 * Model
 *   Each object is created with a placement (see weft/shm.h): NULL for the
 *   threads of this process, WEFT_SHARED or an arena for processes. The
 *   calls are the same either way. Every wait takes a timeout_ms with the
 *   convention of weft/core.h (< 0 forever, 0 never waits: -EAGAIN, > 0 at
 *   most that long: -ETIMEDOUT), measured on the monotonic clock.
 *
 *   Robust locks. Python's multiprocessing.Lock is an ownerless semaphore:
 *   if its holder dies, everybody waiting hangs forever. A weft lock knows
 *   its owner. When the owner - a thread that exits, or a process that is
 *   killed, even by SIGKILL - dies holding it, the next acquirer gets the
 *   lock together with the return value WEFT_OWNERDEAD (a positive value:
 *   the lock IS held, as after 0), so it can repair the state the lock
 *   protects. The lock is usable again at once; the code is reported once.
 *   (Process-shared locks use the kernel's robust futexes; the kernel walks
 *   at most 2,048 locks held by one dying thread.)
 *
 *   Waits are built on futexes with sequence counters, not on
 *   process-shared pthread condition variables, which are not robust: with
 *   glibc, one waiting process that dies can hang every other waiter
 *   (glibc BZ 21422). A weft waiter that dies leaves nothing locked. What
 *   it can leave is noted per object below.
 *
 * Threads and fork
 *   All objects may be used by any number of threads at once, and shared
 *   ones by any number of processes. Objects placed with NULL are private
 *   memory: a forked child gets a copy that has nothing to do with the
 *   parent's (and a copy of a lock held by another thread at fork is held
 *   forever in the child: the classic fork trap, see weft/proc.h). Shared
 *   objects are the same object in parent and child.
 *   Handles of shared objects point into shared memory: they are valid in
 *   a forked child as they are, and another process reaches a named
 *   arena's object through weft_arena_root() or an offset.
 */
#ifndef WEFT_SYNC_H
#define WEFT_SYNC_H

#include <stdbool.h>
#include <stddef.h>

#include <weft/core.h>
#include <weft/shm.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Acquired, and the previous owner died holding the lock: repair the state
 * it protects. Positive, so `rc < 0` still means "not acquired". */
#define WEFT_OWNERDEAD 1

/* ---- Lock (threading.Lock, multiprocessing.Lock) ------------------------- */

typedef struct weft_lock weft_lock;

/* Errors of every create below: -EINVAL, -ENOMEM (no memory, or the arena
 * is full). */
WEFT_API int weft_lock_create(weft_lock **out, weft_arena *where);
/* 0 or WEFT_OWNERDEAD when acquired; -EAGAIN (timeout 0) or -ETIMEDOUT
 * when not; -EDEADLK if the caller already holds it (a Lock is not
 * recursive: that would wait forever). */
WEFT_API int weft_lock_acquire(weft_lock *l, int timeout_ms);
/* Release. -EPERM if the caller (this thread of this process) does not
 * hold it. */
WEFT_API int weft_lock_release(weft_lock *l);
/* 1 if held by anybody, else 0 (a snapshot). */
WEFT_API int weft_lock_locked(weft_lock *l);
/* Free it. NULL is a no-op. -EBUSY while it is held. */
WEFT_API int weft_lock_destroy(weft_lock *l);

/* Scope: `WEFT_WITH_LOCK(l) { ... }` runs the block holding l, like
 * Python's `with lock:` (waiting as long as it takes), and releases it
 * however the block is left: at its end, by break or continue, and also by
 * return or a goto out of it (a cleanup attribute runs on every exit from
 * the scope). Only longjmp() and exit() skip the release. If the lock
 * cannot be acquired at all the block does not run: -EDEADLK (already held
 * by the caller) or a NULL lock (for instance weft_value_lock() of a value
 * created without one) - check for NULL first where it can happen. A
 * WEFT_OWNERDEAD acquisition runs the block; use weft_lock_acquire directly
 * when you need to see that code. */
#define WEFT_WITH_LOCK(l)                                                      \
    WEFT__WITH_LOCK(l, WEFT__CAT(weft__guard_, __COUNTER__))

/* ---- RLock (threading.RLock) --------------------------------------------- */

typedef struct weft_rlock weft_rlock;

WEFT_API int weft_rlock_create(weft_rlock **out, weft_arena *where);
/* As weft_lock_acquire, but the owner may acquire again (the count goes
 * up; -EOVERFLOW past 2^31 - 1). */
WEFT_API int weft_rlock_acquire(weft_rlock *l, int timeout_ms);
/* Decrement the count; the lock is free at 0. -EPERM if the caller does
 * not own it. */
WEFT_API int weft_rlock_release(weft_rlock *l);
/* How many times the caller holds it (0 if it does not own it). */
WEFT_API int weft_rlock_count(weft_rlock *l);
WEFT_API int weft_rlock_destroy(weft_rlock *l);

/* Getters below (value, is_set, parties, n_waiting, broken) return -EINVAL
 * for a NULL handle. A waiter killed while waiting on a semaphore, event,
 * condition or barrier stays counted as waiting: nobody else is blocked,
 * but destroy then returns -EBUSY (the memory stays in the arena). */

/* ---- Semaphore and BoundedSemaphore ------------------------------------ */

typedef struct weft_semaphore weft_semaphore;

/* value: the initial count, 0 .. INT32_MAX (-EINVAL otherwise). A bounded
 * semaphore refuses a release that would take the count above value. */
WEFT_API int weft_semaphore_create(weft_semaphore **out, weft_arena *where,
                                   int value);
WEFT_API int weft_semaphore_create_bounded(weft_semaphore **out,
                                           weft_arena *where, int value);
/* Take one: 0, -EAGAIN / -ETIMEDOUT. A holder that dies does not give its
 * unit back (as with POSIX and Python semaphores). */
WEFT_API int weft_semaphore_acquire(weft_semaphore *s, int timeout_ms);
/* Give one back, waking a waiter. -EOVERFLOW for a bounded semaphore
 * already at its initial value (or any at INT32_MAX). */
WEFT_API int weft_semaphore_release(weft_semaphore *s);
/* The current count (a snapshot). */
WEFT_API int weft_semaphore_value(weft_semaphore *s);
/* -EBUSY while somebody waits in acquire. */
WEFT_API int weft_semaphore_destroy(weft_semaphore *s);

/* ---- Event (threading.Event) -------------------------------------------- */

typedef struct weft_event weft_event;

WEFT_API int weft_event_create(weft_event **out, weft_arena *where);
/* Set the flag and wake every waiter. */
WEFT_API int weft_event_set(weft_event *e);
WEFT_API int weft_event_clear(weft_event *e);
/* 1 if set, else 0. */
WEFT_API int weft_event_is_set(weft_event *e);
/* 0 once the flag is set (at once if it is), -EAGAIN / -ETIMEDOUT. */
WEFT_API int weft_event_wait(weft_event *e, int timeout_ms);
/* -EBUSY while somebody waits. */
WEFT_API int weft_event_destroy(weft_event *e);

/* ---- Condition (threading.Condition) ------------------------------------ */

typedef struct weft_cond weft_cond;

/* A condition variable bound to lock, which must have the same placement
 * (-EINVAL otherwise). lock NULL: the condition makes and owns its own. */
WEFT_API int weft_cond_create(weft_cond **out, weft_arena *where,
                              weft_lock *lock);
/* The lock it is bound to (to acquire, release, or WEFT_WITH_LOCK). */
WEFT_API weft_lock *weft_cond_lock(weft_cond *c);
/* With the lock held: release it, wait until notified or the timeout,
 * take it back, return. 0 when notified, -EAGAIN / -ETIMEDOUT (the lock is
 * held again in every case; timeout 0 never releases it), WEFT_OWNERDEAD
 * (notified or not, the lock came back from a dead owner), -EPERM if the
 * caller does not hold the lock. Which waiters a notify reaches follows
 * the kernel's wake order, not strict first-in-first-out. A waiter killed
 * while waiting stays counted: a later wait() may return early once, as a
 * spurious wake-up would, and destroy says -EBUSY from then on; it never
 * blocks anybody (the kernel drops the dead sleeper, so every notify
 * reaches a live one). */
WEFT_API int weft_cond_wait(weft_cond *c, int timeout_ms);
/* With the lock held: wait until pred(arg) returns true (checked first,
 * then after each wake-up), within timeout_ms in total. 0 when true,
 * -EAGAIN / -ETIMEDOUT when still false, -EPERM, -EINVAL (pred NULL).
 * WEFT_OWNERDEAD at once, lock held and pred not checked again, when the
 * lock came back from a dead owner: the state pred reads may be torn. */
WEFT_API int weft_cond_wait_for(weft_cond *c, bool (*pred)(void *arg),
                                void *arg, int timeout_ms);
/* With the lock held: wake up to n waiters / every waiter. -EPERM if the
 * caller does not hold the lock, -EINVAL for n < 0. */
WEFT_API int weft_cond_notify(weft_cond *c, int n);
WEFT_API int weft_cond_notify_all(weft_cond *c);
/* -EBUSY while somebody waits. Destroys its own lock, not one given. */
WEFT_API int weft_cond_destroy(weft_cond *c);

/* ---- Barrier (threading.Barrier) ---------------------------------------- */

typedef struct weft_barrier weft_barrier;

/* parties >= 1 (-EINVAL for 0 or less). */
WEFT_API int weft_barrier_create(weft_barrier **out, weft_arena *where,
                                 int parties);
/* Wait until `parties` callers have arrived; return this caller's index,
 * distinct in 0 .. parties-1 (the last to arrive gets 0). A timeout breaks
 * the barrier (as in Python): this caller gets -ETIMEDOUT (or -EAGAIN)
 * and every other waiter, now and until reset, WEFT_EBROKEN. A party
 * killed while waiting has counted as arrived. A new round starts as soon
 * as one completes, without waiting for the released parties to leave. */
WEFT_API int weft_barrier_wait(weft_barrier *b, int timeout_ms);
/* Break the barrier: every waiter gets WEFT_EBROKEN. */
WEFT_API int weft_barrier_abort(weft_barrier *b);
/* Back to the empty, unbroken state; current waiters get WEFT_EBROKEN. */
WEFT_API int weft_barrier_reset(weft_barrier *b);
WEFT_API int weft_barrier_parties(weft_barrier *b);
/* How many wait now. */
WEFT_API int weft_barrier_n_waiting(weft_barrier *b);
/* 1 if broken, else 0. */
WEFT_API int weft_barrier_broken(weft_barrier *b);
/* -EBUSY while somebody waits. */
WEFT_API int weft_barrier_destroy(weft_barrier *b);

/* ---- Internals of WEFT_WITH_LOCK ----------------------------------------- */

struct weft__lock_guard {
    weft_lock *lock;
    int held;
};

/* Inline: the guard costs nothing over calling acquire and release. */
static inline struct weft__lock_guard weft__lock_guard_take(weft_lock *l)
{
    struct weft__lock_guard g;

    g.lock = l;
    g.held = weft_lock_acquire(l, -1) >= 0;
    return g;
}

static inline void weft__lock_guard_drop(struct weft__lock_guard *g)
{
    if (g->held) {
        g->held = 0;
        weft_lock_release(g->lock);
    }
}

#define WEFT__CAT2(a, b) a##b
#define WEFT__CAT(a, b)  WEFT__CAT2(a, b)
#define WEFT__WITH_LOCK(l, g)                                                  \
    for (struct weft__lock_guard g                                             \
         __attribute__((cleanup(weft__lock_guard_drop))) =                     \
             weft__lock_guard_take(l);                                         \
         g.held; weft__lock_guard_drop(&g))

#ifdef __cplusplus
}
#endif
#endif
