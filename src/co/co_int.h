/* co_int.h - what the scheduler (sched.c) offers the rest of the module:
 * channels and the synchronization objects (chan.c, sync.c) and the I/O
 * calls (io.c) block by parking the current coroutine and are woken by
 * another coroutine of the same scheduler. One thread, so no locks: a
 * coroutine runs until it parks, and nothing else runs meanwhile.
 */
#ifndef WEFT_CO_INT_H
#define WEFT_CO_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <weft/co.h>

/* The running coroutine, or NULL outside a scheduler (or on the
 * scheduler's own context between coroutines). */
weft_co *weft__co_current(void);

/* Block the running coroutine until weft__co_wake(it), the deadline, or a
 * cancel. Returns 0 (woken), -ETIMEDOUT, or -ECANCELED; a coroutine that
 * is already cancelled returns -ECANCELED at once without parking; -ENOMEM
 * if the timer heap cannot grow, -EPERM outside a coroutine. The
 * caller registers itself where its waker will find it before parking,
 * and removes itself again if park returns an error. Must be called from
 * a coroutine. */
int weft__co_park(weft_deadline deadline);

/* Make a parked coroutine runnable; its park returns 0. Calling it for a
 * coroutine that is not parked does nothing. */
void weft__co_wake(weft_co *c);

/* True if c (or the running coroutine, for NULL) was cancelled. */
bool weft__co_is_cancelled(weft_co *c);

/* FIFO lists of waiter records, for the wait lists of channels and of
 * the synchronization objects: w is any struct with prev and next
 * pointers to its own type, l any struct with head and tail. */
#define WEFT__LIST_PUSH(l, w)                                                  \
    do {                                                                       \
        (w)->next = NULL;                                                      \
        (w)->prev = (l)->tail;                                                 \
        if ((l)->tail != NULL)                                                 \
            (l)->tail->next = (w);                                             \
        else                                                                   \
            (l)->head = (w);                                                   \
        (l)->tail = (w);                                                       \
    } while (0)

#define WEFT__LIST_REMOVE(l, w)                                                \
    do {                                                                       \
        if ((w)->prev != NULL)                                                 \
            (w)->prev->next = (w)->next;                                       \
        else                                                                   \
            (l)->head = (w)->next;                                             \
        if ((w)->next != NULL)                                                 \
            (w)->next->prev = (w)->prev;                                       \
        else                                                                   \
            (l)->tail = (w)->prev;                                             \
        (w)->prev = NULL;                                                      \
        (w)->next = NULL;                                                      \
    } while (0)

#endif
