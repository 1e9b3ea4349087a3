/* barrier.c - weft_barrier: `parties` callers wait until all of them have
 * arrived (threading.Barrier), for threads and processes.
 *
 * The bookkeeping (count, broken, the end of a generation) changes under a
 * robust mutex; the waiting is on `seq`, the generation number, which
 * every end of a generation bumps: the last arrival (a release), a
 * timeout or abort() (the barrier breaks), or reset() with callers
 * waiting (they are told it broke). A waiter records seq under the mutex,
 * lets go of it and sleeps while seq is unchanged; it never needs the
 * mutex to leave.
 *
 * How a waiter learns how its generation ended. A new generation starts
 * at once - unlike Python's barrier, nobody waits for the previous
 * generation's waiters to drain out, so a process killed on its way out
 * cannot stall the barrier - and so, by the time a woken waiter runs, more
 * generations may have ended after its own. Failures are numbered: the
 * ender of failure number f writes the failed generation into
 * fail_gen[f % FAIL_HISTORY] and counts it in `fails`. A waiter records
 * `fails` (f0) with seq (g) when it arrives; afterwards, the first failure
 * since then is number f0, and it either ended generation g (then g
 * failed) or a later one (then g had been released before). So the answer
 * is exact unless FAIL_HISTORY further failures - each needing an abort,
 * timeout or reset with fresh waiters - happen before the waiter gets to
 * run; then its record is gone and it reports WEFT_EBROKEN rather than
 * guess that all went well.
 *
 * Indexes: the n-th caller to arrive (counting from 0) gets parties-1-n,
 * so they are distinct in 0 .. parties-1 and the last arrival gets 0.
 *
 * A party killed while waiting has been counted as arrived: the others are
 * released when the barrier fills, as if it were still there; destroy
 * answers -EBUSY from then on. A process killed holding the mutex (a few
 * instructions of bookkeeping) may have left the counts torn: the next
 * caller breaks the barrier, and reset() makes it usable again.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>

#include "sync/sync_int.h"

#include <weft/sync.h>

#define FAIL_HISTORY 32 /* failures a late waiter can look back over */

struct weft_barrier {
    pthread_mutex_t m;       /* guards count, broken, and every ending */
    _Atomic uint32_t seq;    /* generation number; the futex word */
    _Atomic uint32_t fails;  /* generations ended by a failure so far */
    _Atomic uint32_t count;  /* arrived in this generation */
    _Atomic uint32_t broken; /* 1 until reset */
    _Atomic uint32_t inside; /* callers inside wait(), for destroy */
    int parties;
    bool shared; /* placed in an arena: shared futexes */
    /* fail_gen[f % FAIL_HISTORY]: the generation that failure f ended */
    _Atomic uint32_t fail_gen[FAIL_HISTORY];
};

int weft_barrier_create(weft_barrier **out, weft_arena *where, int parties)
{
    weft_barrier *b;
    bool shared;
    int rc, i;

    if (!out)
        return -EINVAL;
    *out = NULL;
    if (parties < 1)
        return -EINVAL;
    rc = weft__place(where, sizeof *b, (void **)&b, &shared);
    if (rc < 0)
        return rc;
    rc = weft__rmutex_init(&b->m, shared);
    if (rc < 0) {
        weft__unplace(b, shared);
        return rc;
    }
    atomic_init(&b->seq, 0);
    atomic_init(&b->fails, 0);
    atomic_init(&b->count, 0);
    atomic_init(&b->broken, 0);
    atomic_init(&b->inside, 0);
    for (i = 0; i < FAIL_HISTORY; i++)
        atomic_init(&b->fail_gen[i], 0);
    b->parties = parties;
    b->shared = shared;
    *out = b;
    return 0;
}

/* End the current generation (mutex held): record a failure, empty it,
 * and wake its waiters. */
static void end_generation(weft_barrier *b, bool ok)
{
    uint32_t g = atomic_load(&b->seq);
    uint32_t f;

    if (!ok) {
        /* Count first, then write the entry: a reader that sees the new
         * entry also sees the count that tells it an old one went. */
        f = atomic_fetch_add(&b->fails, 1);
        atomic_store(&b->fail_gen[f % FAIL_HISTORY], g);
    }
    atomic_store(&b->count, 0);
    atomic_store(&b->seq, g + 1);
    weft__futex_wake(&b->seq, INT32_MAX, b->shared);
}

/* Break the barrier (mutex held). */
static void break_barrier(weft_barrier *b)
{
    atomic_store(&b->broken, 1);
    end_generation(b, false);
}

/* How generation g ended, once seq has moved on past it, for a waiter
 * that saw f0 failures when it arrived: its index, or WEFT_EBROKEN. */
static int outcome(weft_barrier *b, uint32_t g, uint32_t f0, int index)
{
    uint32_t first;

    if (atomic_load(&b->fails) == f0)
        return index; /* no failure since it arrived */
    first = atomic_load(&b->fail_gen[f0 % FAIL_HISTORY]);
    if (atomic_load(&b->fails) - f0 > FAIL_HISTORY)
        return WEFT_EBROKEN; /* the entry was overwritten: see above */
    return first == g ? WEFT_EBROKEN : index;
}

/* Take the mutex. A dead holder may have torn the counts, so then break
 * the barrier. Returns 0 with the mutex held, 1 with it held after
 * breaking, or a negative error without it. */
static int lock_books(weft_barrier *b)
{
    int rc = weft__rmutex_lock(&b->m, -1);

    if (rc == WEFT_OWNERDEAD) {
        break_barrier(b);
        return 1;
    }
    return rc;
}

static int wait_body(weft_barrier *b, int timeout_ms)
{
    weft_deadline deadline;
    uint32_t g, f0, arrived;
    int rc, index;

    rc = lock_books(b);
    if (rc < 0)
        return rc;
    if (rc == 1 || atomic_load(&b->broken)) {
        weft__rmutex_unlock(&b->m);
        return WEFT_EBROKEN;
    }
    arrived = atomic_load(&b->count);
    index = b->parties - 1 - (int)arrived;
    if (index == 0) {
        end_generation(b, true);
        weft__rmutex_unlock(&b->m);
        return 0;
    }
    if (timeout_ms == 0) {
        /* Python breaks the barrier for a caller that would have to wait
         * and may not. */
        break_barrier(b);
        weft__rmutex_unlock(&b->m);
        return -EAGAIN;
    }
    atomic_store(&b->count, arrived + 1);
    g = atomic_load(&b->seq);
    f0 = atomic_load(&b->fails);
    weft__rmutex_unlock(&b->m);

    deadline = weft_deadline_in(timeout_ms);
    for (;;) {
        rc = weft__futex_wait(&b->seq, g, b->shared, deadline);
        if (atomic_load(&b->seq) != g)
            return outcome(b, g, f0, index);
        if (rc == 0 || rc == -EINTR)
            continue; /* spurious, or a signal: sleep on */
        break;        /* -ETIMEDOUT */
    }
    /* Timed out: unless the generation ended meanwhile, we break it. */
    rc = lock_books(b);
    if (rc < 0)
        return rc;
    if (rc == 1 || atomic_load(&b->seq) != g) {
        weft__rmutex_unlock(&b->m);
        return outcome(b, g, f0, index);
    }
    break_barrier(b);
    weft__rmutex_unlock(&b->m);
    return -ETIMEDOUT;
}

int weft_barrier_wait(weft_barrier *b, int timeout_ms)
{
    int rc;

    if (!b)
        return -EINVAL;
    atomic_fetch_add(&b->inside, 1);
    rc = wait_body(b, timeout_ms);
    atomic_fetch_sub(&b->inside, 1);
    return rc;
}

int weft_barrier_abort(weft_barrier *b)
{
    int rc;

    if (!b)
        return -EINVAL;
    rc = lock_books(b);
    if (rc < 0)
        return rc;
    /* Broken already: nobody waits (they are told at once), nothing to
     * end - and not spending a failure record keeps history for late
     * waiters. */
    if (rc == 0 && !atomic_load(&b->broken))
        break_barrier(b);
    weft__rmutex_unlock(&b->m);
    return 0;
}

int weft_barrier_reset(weft_barrier *b)
{
    int rc;

    if (!b)
        return -EINVAL;
    rc = lock_books(b);
    if (rc < 0)
        return rc;
    /* Callers waiting now are told it broke; a broken barrier has none. */
    if (atomic_load(&b->count) > 0)
        end_generation(b, false);
    atomic_store(&b->broken, 0);
    weft__rmutex_unlock(&b->m);
    return 0;
}

int weft_barrier_parties(weft_barrier *b)
{
    if (!b)
        return -EINVAL;
    return b->parties;
}

int weft_barrier_n_waiting(weft_barrier *b)
{
    if (!b)
        return -EINVAL;
    return (int)atomic_load(&b->count);
}

int weft_barrier_broken(weft_barrier *b)
{
    if (!b)
        return -EINVAL;
    return atomic_load(&b->broken) != 0;
}

int weft_barrier_destroy(weft_barrier *b)
{
    if (!b)
        return 0;
    if (atomic_load(&b->inside) > 0)
        return -EBUSY;
    pthread_mutex_destroy(&b->m);
    weft__unplace(b, b->shared);
    return 0;
}
