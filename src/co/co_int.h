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

#endif
