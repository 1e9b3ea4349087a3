/* lock_int.h - the weft_lock structure, for objects that embed a lock
 * (conditions, values, dicts) instead of allocating one. */
#ifndef WEFT_LOCK_INT_H
#define WEFT_LOCK_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <weft/sync.h>

/* States of a private lock's futex word. */
enum {
    WEFT__LOCK_FREE = 0,
    WEFT__LOCK_HELD = 1,      /* held, nobody waits */
    WEFT__LOCK_CONTENDED = 2, /* held, somebody may wait */
    WEFT__LOCK_DEAD = 3       /* free: its owner died holding it */
};

struct weft_lock {
    bool shared;   /* placement: process-shared (m) or private (word) */
    bool embedded; /* part of another object: never freed on its own */
    /* Private: a futex word and the holder's pthread_t. */
    _Atomic uint32_t word;
    _Atomic uintptr_t owner;
    /* Shared: a robust glibc mutex (the kernel's robust futex list is
     * what notices a process killed while holding it). */
    pthread_mutex_t m;
};

/* Make *l a free lock living inside another object. 0 or -errno. */
int weft__lock_init(struct weft_lock *l, bool shared);
/* Tear down an embedded lock. -EBUSY while held. */
int weft__lock_fini(struct weft_lock *l);
/* 1 if the calling thread holds l, else 0. */
int weft__lock_held_by_me(const weft_lock *l);
bool weft__lock_shared(const weft_lock *l);
/* Acquire against a deadline (the timeout-free core of acquire). */
int weft__lock_acquire_until(weft_lock *l, weft_deadline deadline, bool nowait);

#endif
