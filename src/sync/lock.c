/* lock.c - weft_lock and weft_rlock: robust mutual exclusion between
 * threads and between processes.
 *
 * Two implementations behind one API, because the cheap one cannot see a
 * process die:
 *
 *   Private locks (placement NULL) are a futex word (free / held /
 *   contended / dead) and the holder's pthread_t: Drepper's three-state
 *   mutex, uncontended cost one compare-exchange to take and one atomic
 *   decrement to give back. Robustness against a *thread* that ends
 *   holding one: each thread keeps the list of private locks it holds in
 *   thread-local storage, and a pthread key destructor, which runs when
 *   the thread ends (return, pthread_exit, cancellation), marks each of
 *   them DEAD and wakes the waiters. The next acquirer takes a DEAD lock
 *   and returns WEFT_OWNERDEAD. (A private lock cannot outlive its
 *   process, so process death needs nothing.)
 *
 *   Shared locks are robust, error-checking, process-shared glibc mutexes:
 *   the kernel walks each dying thread's robust list, so even a process
 *   killed by SIGKILL leaves its locks marked, never silently held.
 *
 * Ownership is strict for both (unlike Python's threading.Lock, which any
 * thread may release): only the holder releases, which is what makes a
 * dead holder detectable at all. For hand-offs between threads use a
 * semaphore.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/sanitizer_int.h"
#include "sync/lock_int.h"
#include "sync/sync_int.h"

/* ---- Held lists for private locks -----------------------------------------
 */

/* The private locks the calling thread holds, usually few and released
 * in reverse order, so the search from the top is short. */
struct held_list {
    weft_lock **v;
    int n, cap;
    bool keyed; /* the destructor key is set for this thread */
    weft_lock *inline_v[16];
};

static __thread struct held_list held
    __attribute__((tls_model("initial-exec")));
static pthread_key_t held_key;
static pthread_once_t held_once = PTHREAD_ONCE_INIT;

/* Runs as a thread ends: the locks it still holds become DEAD, and every
 * waiter is woken to take one of them. */
static void held_destructor(void *p)
{
    struct held_list *h = p;
    int i;

    for (i = 0; i < h->n; i++) {
        weft_lock *l = h->v[i];
        atomic_store(&l->owner, 0);
        atomic_store(&l->word, WEFT__LOCK_DEAD);
        weft__futex_wake(&l->word, INT32_MAX, false);
    }
    h->n = 0;
    if (h->v != h->inline_v)
        free(h->v);
    h->v = h->inline_v;
    h->cap = 16;
}

static void held_init(void)
{
    pthread_key_create(&held_key, held_destructor);
}

/* Room for more entries: the first call in a thread sets the list up and
 * registers the destructor; later ones grow it. */
static int held_grow(void)
{
    weft_lock **v;

    if (!held.v) {
        held.v = held.inline_v;
        held.cap = 16;
    }
    if (!held.keyed) {
        pthread_once(&held_once, held_init);
        if (pthread_setspecific(held_key, &held) != 0)
            return -ENOMEM;
        held.keyed = true;
    }
    if (held.n < held.cap)
        return 0;
    v = malloc(sizeof *v * (size_t)held.cap * 2);
    if (!v)
        return -ENOMEM;
    memcpy(v, held.v, sizeof *v * (size_t)held.n);
    if (held.v != held.inline_v)
        free(held.v);
    held.v = v;
    held.cap *= 2;
    return 0;
}

/* Make room for one more entry before taking a lock, so that a lock once
 * taken can always be recorded. cap is 0 until a thread's first lock. */
static inline int held_reserve(void)
{
    return held.n < held.cap ? 0 : held_grow();
}

static void held_remove(weft_lock *l)
{
    int i;

    if (held.n > 0 && held.v[held.n - 1] == l) {
        held.n--; /* the usual case: the last lock taken */
        return;
    }
    for (i = held.n - 2; i >= 0; i--) {
        if (held.v[i] == l) {
            memmove(&held.v[i], &held.v[i + 1],
                    sizeof held.v[0] * (size_t)(held.n - i - 1));
            held.n--;
            return;
        }
    }
}

/* ---- Private lock ----------------------------------------------------------
 */

/* The calling thread's identity for private locks: the address of its
 * held list, unique among live threads of the process and free to compute
 * (pthread_self() is a call into the C library). */
static inline uintptr_t self_id(void)
{
    return (uintptr_t)&held;
}

static int private_acquire(weft_lock *l, weft_deadline deadline, bool nowait)
{
    uintptr_t self = self_id();
    uint32_t c = WEFT__LOCK_FREE;
    int rc = 0, spins;

    if (held_reserve() < 0)
        return -ENOMEM;
    if (atomic_compare_exchange_strong(&l->word, &c, WEFT__LOCK_HELD))
        goto got;
    if (c != WEFT__LOCK_DEAD && atomic_load(&l->owner) == self)
        return -EDEADLK;
    /* Waking a thread on the other core costs 15-30 us here; a holder
     * often lets go sooner than that, so look a few times first. */
    for (spins = 0; spins < 100 && c == WEFT__LOCK_HELD; spins++) {
        weft__cpu_relax();
        c = WEFT__LOCK_FREE;
        if (atomic_compare_exchange_weak(&l->word, &c, WEFT__LOCK_HELD))
            goto got;
    }
    if (nowait) {
        c = WEFT__LOCK_DEAD;
        if (atomic_compare_exchange_strong(&l->word, &c, WEFT__LOCK_HELD)) {
            rc = WEFT_OWNERDEAD;
            goto got;
        }
        return -EAGAIN;
    }
    /* Mark it contended; if it was free (or dead) we now hold it. */
    for (;;) {
        c = atomic_exchange(&l->word, WEFT__LOCK_CONTENDED);
        if (c == WEFT__LOCK_FREE)
            goto got;
        if (c == WEFT__LOCK_DEAD) {
            rc = WEFT_OWNERDEAD;
            goto got;
        }
        rc = weft__futex_wait(&l->word, WEFT__LOCK_CONTENDED, false, deadline);
        if (rc == -ETIMEDOUT)
            return rc;
        rc = 0;
    }
got:
    atomic_store_explicit(&l->owner, self, memory_order_relaxed);
    held.v[held.n++] = l;
    return rc;
}

static int private_release(weft_lock *l)
{
    /* Only the holder ever stores its own id in owner, and clears it
     * before letting go: owner == self means we hold it. */
    if (atomic_load_explicit(&l->owner, memory_order_relaxed) != self_id())
        return -EPERM;
    atomic_store_explicit(&l->owner, 0, memory_order_relaxed);
    held_remove(l);
    if (atomic_fetch_sub_explicit(&l->word, 1, memory_order_release) !=
        WEFT__LOCK_HELD) {
        atomic_store(&l->word, WEFT__LOCK_FREE);
        weft__futex_wake(&l->word, 1, false);
    }
    return 0;
}

/* ---- Lock ------------------------------------------------------------------
 */

int weft__lock_init(struct weft_lock *l, bool shared)
{
    memset(l, 0, sizeof *l);
    l->shared = shared;
    l->embedded = true;
    if (shared)
        return weft__rmutex_init(&l->m, true);
    return 0;
}

int weft__lock_held_by_me(const weft_lock *l)
{
    uint32_t w;

    if (l->shared)
        return weft__rmutex_owner(&l->m) == weft__gettid();
    w = atomic_load(&((weft_lock *)l)->word);
    return (w == WEFT__LOCK_HELD || w == WEFT__LOCK_CONTENDED) &&
           atomic_load(&((weft_lock *)l)->owner) == self_id();
}

bool weft__lock_shared(const weft_lock *l)
{
    return l->shared;
}

int weft__lock_fini(struct weft_lock *l)
{
    if (weft_lock_locked(l))
        return -EBUSY;
    if (l->shared)
        pthread_mutex_destroy(&l->m);
    return 0;
}

int weft_lock_create(weft_lock **out, weft_arena *where)
{
    weft_lock *l;
    bool shared;
    int rc;

    if (!out)
        return -EINVAL;
    *out = NULL;
    rc = weft__place(where, sizeof *l, (void **)&l, &shared);
    if (rc < 0)
        return rc;
    rc = weft__lock_init(l, shared);
    if (rc < 0) {
        weft__unplace(l, shared);
        return rc;
    }
    l->embedded = false;
    *out = l;
    return 0;
}

int weft__lock_acquire_until(weft_lock *l, weft_deadline deadline, bool nowait)
{
    if (!l->shared)
        return private_acquire(l, deadline, nowait);
    /* The error-checking mutex says EDEADLK itself when it would wait on
     * its own holder; trylock says EBUSY instead, so ask the futex word. */
    if (nowait) {
        if (weft__rmutex_owner(&l->m) == weft__gettid())
            return -EDEADLK;
        return weft__rmutex_lock(&l->m, 0);
    }
    return weft__rmutex_lock_until(&l->m, deadline);
}

int weft_lock_acquire(weft_lock *l, int timeout_ms)
{
    uint32_t c = WEFT__LOCK_FREE;

    if (!l)
        return -EINVAL;
    /* The uncontended private case, inline: one compare-exchange. */
    if (!l->shared && held.n < held.cap &&
        atomic_compare_exchange_strong_explicit(&l->word, &c, WEFT__LOCK_HELD,
                                                memory_order_acquire,
                                                memory_order_relaxed)) {
        atomic_store_explicit(&l->owner, self_id(), memory_order_relaxed);
        held.v[held.n++] = l;
        return 0;
    }
    return weft__lock_acquire_until(
        l, timeout_ms < 0 ? WEFT_DEADLINE_NEVER : weft_deadline_in(timeout_ms),
        timeout_ms == 0);
}

int weft_lock_release(weft_lock *l)
{
    if (!l)
        return -EINVAL;
    if (!l->shared)
        return private_release(l);
    /* The robust error-checking mutex refuses (EPERM) an unlock by a
     * thread that does not hold it. ThreadSanitizer reports such a call
     * anyway, so under it the futex word is asked first. */
    if (WEFT__TSAN && weft__rmutex_owner(&l->m) != weft__gettid())
        return -EPERM;
    return weft__rmutex_unlock(&l->m);
}

int weft_lock_locked(weft_lock *l)
{
    uint32_t w;

    if (!l)
        return 0;
    if (l->shared)
        return weft__rmutex_owner(&l->m) != 0;
    w = atomic_load(&l->word);
    return w == WEFT__LOCK_HELD || w == WEFT__LOCK_CONTENDED;
}

int weft_lock_destroy(weft_lock *l)
{
    int rc;

    if (!l)
        return 0;
    if (l->embedded)
        return -EINVAL;
    rc = weft__lock_fini(l);
    if (rc < 0)
        return rc;
    weft__unplace(l, l->shared);
    return 0;
}

/* ---- RLock -----------------------------------------------------------------
 */

/* A lock plus a count that only its holder touches. Whether the caller is
 * the holder is asked of the lock itself (its futex word names the holder),
 * never of a remembered id, which a dead owner's recycled thread id could
 * match. */
struct weft_rlock {
    struct weft_lock lock;
    int count;
};

int weft_rlock_create(weft_rlock **out, weft_arena *where)
{
    weft_rlock *r;
    bool shared;
    int rc;

    if (!out)
        return -EINVAL;
    *out = NULL;
    rc = weft__place(where, sizeof *r, (void **)&r, &shared);
    if (rc < 0)
        return rc;
    rc = weft__lock_init(&r->lock, shared);
    if (rc < 0) {
        weft__unplace(r, shared);
        return rc;
    }
    *out = r;
    return 0;
}

int weft_rlock_acquire(weft_rlock *r, int timeout_ms)
{
    int rc;

    if (!r)
        return -EINVAL;
    if (weft__lock_held_by_me(&r->lock)) {
        if (r->count == INT_MAX)
            return -EOVERFLOW;
        r->count++;
        return 0;
    }
    rc = weft_lock_acquire(&r->lock, timeout_ms);
    if (rc >= 0)
        r->count = 1;
    return rc;
}

int weft_rlock_release(weft_rlock *r)
{
    if (!r)
        return -EINVAL;
    if (!weft__lock_held_by_me(&r->lock))
        return -EPERM;
    if (--r->count > 0)
        return 0;
    return weft_lock_release(&r->lock);
}

int weft_rlock_count(weft_rlock *r)
{
    if (!r || !weft__lock_held_by_me(&r->lock))
        return 0;
    return r->count;
}

int weft_rlock_destroy(weft_rlock *r)
{
    int rc;

    if (!r)
        return 0;
    rc = weft__lock_fini(&r->lock);
    if (rc < 0)
        return rc;
    weft__unplace(r, r->lock.shared);
    return 0;
}
