/* futex.c - futex waits against monotonic deadlines, the cached thread id,
 * and the robust mutex that process-shared objects are built on. */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/sanitizer_int.h"
#include "sync/sync_int.h"

#include <weft/sync.h>

int weft__futex_wait(_Atomic uint32_t *word, uint32_t expected, bool shared,
                     weft_deadline deadline)
{
    struct timespec ts, *tp = NULL;
    int op = FUTEX_WAIT_BITSET | (shared ? 0 : FUTEX_PRIVATE_FLAG);
    long rc;

    if (deadline != WEFT_DEADLINE_NEVER) {
        if (weft_deadline_expired(deadline))
            return -ETIMEDOUT;
        /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time, so a
         * restarted wait never stretches the deadline. */
        ts.tv_sec = deadline / 1000000000;
        ts.tv_nsec = deadline % 1000000000;
        tp = &ts;
    }
    rc = syscall(SYS_futex, word, op, expected, tp, NULL,
                 FUTEX_BITSET_MATCH_ANY);
    if (rc == 0)
        return 0;
    switch (errno) {
    case EAGAIN: /* the value had changed already */
        return 0;
    case ETIMEDOUT:
        return -ETIMEDOUT;
    case EINTR:
        return -EINTR;
    default:
        return -errno;
    }
}

int weft__futex_wake(_Atomic uint32_t *word, int n, bool shared)
{
    int op = FUTEX_WAKE | (shared ? 0 : FUTEX_PRIVATE_FLAG);
    long rc = syscall(SYS_futex, word, op, n, NULL, NULL, 0);

    return rc < 0 ? -errno : (int)rc;
}

/* ---- Thread identity ---------------------------------------------------- */

static __thread pid_t cached_tid __attribute__((tls_model("initial-exec")));
static pthread_once_t tid_once = PTHREAD_ONCE_INIT;

/* The forking thread carries its parent-side id into the child. */
static void tid_atfork_child(void)
{
    cached_tid = 0;
}

static void tid_init(void)
{
    pthread_atfork(NULL, NULL, tid_atfork_child);
}

pid_t weft__gettid(void)
{
    if (cached_tid == 0) {
        pthread_once(&tid_once, tid_init);
        cached_tid = (pid_t)syscall(SYS_gettid);
    }
    return cached_tid;
}

/* ---- Robust mutex -------------------------------------------------------- */

int weft__rmutex_init(pthread_mutex_t *m, bool shared)
{
    pthread_mutexattr_t a;
    int rc;

    pthread_mutexattr_init(&a);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
    pthread_mutexattr_setpshared(&a, shared ? PTHREAD_PROCESS_SHARED
                                            : PTHREAD_PROCESS_PRIVATE);
    rc = pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
    return -rc;
}

static int rmutex_result(pthread_mutex_t *m, int rc)
{
    switch (rc) {
    case 0:
        return 0;
    case EOWNERDEAD:
        /* We hold it. weft reports the death to the caller instead of
         * asking it to call a second function: the lock is consistent
         * again at once (POSIX would make it unusable forever if the
         * caller forgot). */
        pthread_mutex_consistent(m);
        return WEFT_OWNERDEAD;
    case EBUSY:
        return -EAGAIN;
    default:
        return -rc; /* ETIMEDOUT, EDEADLK, ENOTRECOVERABLE */
    }
}

int weft__rmutex_lock_until(pthread_mutex_t *m, weft_deadline deadline)
{
    struct timespec ts;

    if (deadline == WEFT_DEADLINE_NEVER)
        return rmutex_result(m, pthread_mutex_lock(m));
#if WEFT__TSAN
    /* ThreadSanitizer (clang 14) does not intercept
     * pthread_mutex_clocklock: a mutex taken that way is invisible to it,
     * and everything it protects looks like a race. Under TSan only, poll
     * with trylock, which it does see. */
    for (;;) {
        int rc = pthread_mutex_trylock(m);
        if (rc != EBUSY)
            return rmutex_result(m, rc);
        if (weft_deadline_expired(deadline))
            return -ETIMEDOUT;
        weft_sleep_ms(1);
    }
#endif
    ts.tv_sec = deadline / 1000000000;
    ts.tv_nsec = deadline % 1000000000;
    return rmutex_result(m, pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &ts));
}

int weft__rmutex_lock(pthread_mutex_t *m, int timeout_ms)
{
    if (timeout_ms == 0)
        return rmutex_result(m, pthread_mutex_trylock(m));
    return weft__rmutex_lock_until(m, weft_deadline_in(timeout_ms));
}

int weft__rmutex_unlock(pthread_mutex_t *m)
{
    return -pthread_mutex_unlock(m);
}

pid_t weft__rmutex_owner(const pthread_mutex_t *m)
{
    /* The futex word of a robust mutex holds the owner's kernel id; the
     * kernel clears it (and sets FUTEX_OWNER_DIED) when the owner dies.
     * __data.__lock is that word in glibc's public pthread_mutex_t. */
    unsigned w =
        __atomic_load_n((const unsigned *)&m->__data.__lock, __ATOMIC_RELAXED);
    return (pid_t)(w & FUTEX_TID_MASK);
}
