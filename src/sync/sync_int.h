/* sync_int.h - what the synchronization objects share: placement of an
 * object in private or shared memory, futex waits against deadlines, the
 * calling thread's kernel id, and glibc robust mutexes for the
 * process-shared case. Private to libweft. */
#ifndef WEFT_SYNC_INT_H
#define WEFT_SYNC_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <weft/core.h>
#include <weft/shm.h>

/* ---- Placement ---------------------------------------------------------- */

/* Allocate size bytes, zero-filled and 64-byte aligned: from the heap for
 * where == NULL (*shared = false), else from the arena (WEFT_SHARED: the
 * default arena) (*shared = true). 0, -ENOMEM (no memory, arena full, or
 * the default arena cannot be made), -EINVAL. */
int weft__place(weft_arena *where, size_t size, void **out, bool *shared);
/* Give back what weft__place gave. */
void weft__unplace(void *p, bool shared);

/* ---- Futexes ------------------------------------------------------------ */

/* Sleep while *word == expected, until woken or the deadline passes.
 * shared selects the process-shared futex (a private one is cheaper but
 * only reaches threads of this process). Returns 0 when woken (or the
 * value had already changed: the caller re-checks its condition either
 * way), -ETIMEDOUT at the deadline, -EINTR after a signal handler ran. */
int weft__futex_wait(_Atomic uint32_t *word, uint32_t expected, bool shared,
                     weft_deadline deadline);
/* Wake up to n sleepers on word (INT32_MAX: all). Returns how many. */
int weft__futex_wake(_Atomic uint32_t *word, int n, bool shared);

/* A hint to the CPU inside a spin loop (lets the other hyperthread run,
 * saves power). */
static inline void weft__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* ---- Thread identity ------------------------------------------------------
 */

/* The calling thread's kernel id, cached per thread (and refreshed in a
 * forked child). */
pid_t weft__gettid(void);

/* ---- Robust process-shared mutex ---------------------------------------- */

/* A glibc mutex that is robust (the kernel marks it when its owner dies),
 * error-checking (relock -> EDEADLK, unlock by a non-owner -> EPERM) and,
 * if shared, process-shared. Lives wherever the object that holds it
 * lives. */
int weft__rmutex_init(pthread_mutex_t *m, bool shared);
/* 0, WEFT_OWNERDEAD (held; the state was made consistent again),
 * -EAGAIN (timeout 0), -ETIMEDOUT, -EDEADLK. */
int weft__rmutex_lock(pthread_mutex_t *m, int timeout_ms);
int weft__rmutex_lock_until(pthread_mutex_t *m, weft_deadline deadline);
/* 0, -EPERM. */
int weft__rmutex_unlock(pthread_mutex_t *m);
/* The kernel id of the thread holding it, 0 if free (a snapshot). */
pid_t weft__rmutex_owner(const pthread_mutex_t *m);

#endif
