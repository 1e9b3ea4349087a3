/* weft/co.h - coroutines that switch on I/O: greenlet and gevent for C.
 *
 * Model
 *   A scheduler runs many coroutines in one thread. weft_co_run(fn, arg)
 *   makes the calling thread a scheduler, runs fn as its first coroutine,
 *   and returns when every coroutine has finished. Inside, coroutines
 *   spawn others, yield, sleep, wait for descriptors, and talk through
 *   channels; whenever one would block, the scheduler switches to another
 *   that can run. When none can, the thread sleeps in epoll_wait until a
 *   descriptor is ready or the nearest timer is due.
 *
 *   Switching is cooperative: a coroutine runs until it blocks, yields or
 *   finishes. A switch saves only the callee-saved registers and the
 *   floating-point control state (hand-written for x86-64 and aarch64;
 *   ucontext elsewhere), so it costs tens of nanoseconds and no system
 *   call.
 *
 *   Each coroutine has its own stack, mmap'ed with a guard page below it:
 *   an overflow is a clean SIGSEGV, never silent corruption. Stacks are
 *   carved from large slabs, and the guard pages are made with
 *   MADV_GUARD_INSTALL (Linux 6.13+), which does not split the mapping, so
 *   the number of coroutines is not capped near 32,000 by vm.max_map_count.
 *   On older kernels each guard page is an mprotect'ed page (two mappings
 *   per stack); near the limit, stacks come unguarded from the slabs (see
 *   docs/coroutines.md). Stacks of finished coroutines are reused. Pages
 *   are touched only as the stack grows: an idle coroutine costs about one
 *   page of memory plus its 200-byte handle.
 *
 * Cancellation
 *   weft_co_cancel(c) never jumps over c's code: it marks c, wakes it if
 *   it is blocked now, and from then on every call of c that would have
 *   to wait (sleep, join, I/O waits, channel and synchronization waits;
 *   yield excepted) returns -ECANCELED instead. A call that can complete
 *   at once still does (a receive from a channel that holds an item, a
 *   timeout-0 try), and a hand-off that raced the cancel wins. c then
 *   cleans up and returns as it likes.
 *
 * Errors and outside a scheduler
 *   Functions return 0 (or a count) or a negative errno value, with the
 *   timeout convention of weft/core.h. Called outside a scheduler thread:
 *   weft_co_sleep sleeps the thread, the I/O calls block the thread (with
 *   poll for the timeout) - so the same code works in coroutines and in
 *   plain threads; spawn, yield, join, switch and channel operations that
 *   would block return -EPERM.
 *
 * Threads and fork
 *   Each thread may run its own scheduler; coroutines, their handles,
 *   channels and the other objects here belong to the scheduler that made
 *   them and must be used only from its thread. A forked child inherits
 *   none of it: do not use a scheduler across fork (libdill and gevent
 *   both learned this the hard way); start a new one in the child.
 */
#ifndef WEFT_CO_H
#define WEFT_CO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <weft/core.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_co weft_co;

/* A coroutine's body; its return value is what join reports. */
typedef int (*weft_co_fn)(void *arg);

/* Stack sizes: the default, and the smallest accepted. */
#define WEFT_CO_STACK_DEFAULT (64u * 1024)
#define WEFT_CO_STACK_MIN     (16u * 1024)

typedef struct weft_co_opts {
    size_t stack_size; /* 0: WEFT_CO_STACK_DEFAULT; rounded up to pages */
} weft_co_opts;

/* ---- the scheduler ------------------------------------------------------- */

/* Run fn(arg) as the first coroutine of a new scheduler on this thread,
 * and everything it spawns, until all have finished. Returns 0 and sets
 * *result (may be NULL) to fn's return value. If every coroutine left is
 * blocked with nothing that could wake it (no timer, no descriptor), they
 * are all cancelled so they can clean up, and the call returns -EDEADLK
 * after they finish (gevent's "this operation would block forever").
 * Errors: -EINVAL (fn NULL, bad opts), -EBUSY (this thread already runs a
 * scheduler), -ENOMEM. */
WEFT_API int weft_co_run(weft_co_fn fn, void *arg, const weft_co_opts *opts,
                         int *result);

/* ---- coroutines
 * -------------------------------------------------------------- */

/* Start fn(arg) in the current scheduler; it runs when the current one
 * blocks or yields. *out (may be NULL) gets a handle, which the caller
 * must release with weft_co_release. Errors: -EPERM (not in a
 * scheduler), -EINVAL (fn NULL, stack below WEFT_CO_STACK_MIN), -ENOMEM
 * (no memory or no more mappings for a stack). */
WEFT_API int weft_co_spawn(weft_co **out, weft_co_fn fn, void *arg,
                           const weft_co_opts *opts);
/* Let every other runnable coroutine run once, then continue. 0, or
 * -EPERM outside a scheduler. */
WEFT_API int weft_co_yield(void);
/* Sleep ms milliseconds: 0; -ECANCELED; -EINVAL for ms < 0. */
WEFT_API int weft_co_sleep(int ms);
/* Wait until c has finished: 0 and *result (may be NULL) its return
 * value; -ETIMEDOUT / -EAGAIN; -ECANCELED (the caller was cancelled);
 * -EDEADLK (c is the caller); -EINVAL (NULL, or a handle of another
 * scheduler). Joining a coroutine that already finished returns at once;
 * any number of coroutines may join the same one. */
WEFT_API int weft_co_join(weft_co *c, int timeout_ms, int *result);
/* gevent.joinall: wait until every one of cs[0..n) has finished (a NULL
 * entry is skipped). 0; errors as weft_co_join. */
WEFT_API int weft_co_join_all(weft_co *const *cs, size_t n, int timeout_ms);
/* Cancel c (see Cancellation above). 0; 0 also if c already finished;
 * -EINVAL for NULL or a handle of another scheduler. Cancelling yourself
 * makes your next blocking call return -ECANCELED. */
WEFT_API int weft_co_cancel(weft_co *c);
/* 1 if the current coroutine was cancelled, else 0. */
WEFT_API int weft_co_cancelled(void);
/* 1 once c has finished. */
WEFT_API int weft_co_done(const weft_co *c);
/* Drop the handle. A coroutine still running goes on. NULL is a no-op. */
WEFT_API void weft_co_release(weft_co *c);

/* The current coroutine: its handle (not a new reference) and its id
 * (unique in the process, from 1; 0 outside a coroutine). */
WEFT_API weft_co *weft_co_self(void);
WEFT_API uint64_t weft_co_id(void);
WEFT_API uint64_t weft_co_get_id(const weft_co *c);

/* greenlet.switch: suspend the caller and run `to` at once, out of its
 * turn, handing it value: if `to` is suspended in a weft_co_switch of its
 * own, that call returns 0 with value as *received; a `to` that is
 * runnable (spawned, yielded) just starts or goes on. The caller resumes
 * when some coroutine switches back to it (then 0 and *received, may be
 * NULL, is the value), or when the scheduler gets to it after `to`
 * blocks, yields or finishes (then 0 and *received is 0). Errors: -EPERM
 * outside a scheduler; -EINVAL (NULL, finished, another scheduler's, or
 * `to` is blocked in a sleep, join, I/O or channel call - not ours to
 * disturb); -EDEADLK (`to` is the caller); -ECANCELED (the caller was
 * cancelled; it is also how a switched coroutine learns of a cancel). */
WEFT_API int weft_co_switch(weft_co *to, intptr_t value, intptr_t *received);

/* ---- I/O that yields -------------------------------------------------------
 */

enum { WEFT_CO_READ = 1, WEFT_CO_WRITE = 2 };

/* Wait until fd is readable and/or writable (WEFT_CO_READ | WRITE): the
 * events ready (> 0; an error or hang-up on fd counts as both), or
 * -ETIMEDOUT / -EAGAIN, -ECANCELED, -EBADF, -EINVAL. */
WEFT_API int weft_co_wait_fd(int fd, int events, int timeout_ms);

/* read(2), write(2), recv(2), send(2) on a descriptor that the calls make
 * non-blocking (O_NONBLOCK is set on first use, as gevent does): each
 * returns what the system call returned (a short count is possible;
 * 0 from read/recv is end of file), or waits for readiness while it would
 * block: -ETIMEDOUT, -ECANCELED, or -errno of the system call. */
WEFT_API ssize_t weft_co_read(int fd, void *buf, size_t len, int timeout_ms);
WEFT_API ssize_t weft_co_write(int fd, const void *buf, size_t len,
                               int timeout_ms);
WEFT_API ssize_t weft_co_recv(int fd, void *buf, size_t len, int flags,
                              int timeout_ms);
WEFT_API ssize_t weft_co_send(int fd, const void *buf, size_t len, int flags,
                              int timeout_ms);
/* sendto(2), recvfrom(2) for datagrams, likewise. */
WEFT_API ssize_t weft_co_sendto(int fd, const void *buf, size_t len, int flags,
                                const struct sockaddr *to, socklen_t tolen,
                                int timeout_ms);
WEFT_API ssize_t weft_co_recvfrom(int fd, void *buf, size_t len, int flags,
                                  struct sockaddr *from, socklen_t *fromlen,
                                  int timeout_ms);
/* accept4: the new descriptor, non-blocking and close-on-exec; errors as
 * above. */
WEFT_API int weft_co_accept(int fd, struct sockaddr *addr, socklen_t *addrlen,
                            int timeout_ms);
/* connect, waiting for the handshake: 0, -ETIMEDOUT, or the connection's
 * error (-ECONNREFUSED, ...). */
WEFT_API int weft_co_connect(int fd, const struct sockaddr *addr,
                             socklen_t addrlen, int timeout_ms);
/* sendfile(2) to a socket: bytes sent (at most count; short counts
 * possible), errors as above. */
WEFT_API ssize_t weft_co_sendfile(int out_fd, int in_fd, off_t *offset,
                                  size_t count, int timeout_ms);

/* ---- channels
 * ---------------------------------------------------------------- */

typedef struct weft_chan weft_chan;

/* A channel carries values of item_size bytes between coroutines of one
 * scheduler. capacity 0: unbuffered (a send waits for a receiver, as in
 * Go); > 0: buffered, a send waits only while capacity items are queued;
 * WEFT_CHAN_UNBOUNDED: never waits. Errors: -EINVAL (item_size 0),
 * -ENOMEM. May be created outside a scheduler. */
#define WEFT_CHAN_UNBOUNDED SIZE_MAX
WEFT_API int weft_chan_create(weft_chan **out, size_t item_size,
                              size_t capacity);
/* 0; -ETIMEDOUT / -EAGAIN; -ECANCELED; WEFT_ECLOSED (closed channel); -EPERM
 * (would wait outside a scheduler); -EINVAL (NULL); -ENOMEM (an unbounded
 * channel could not grow). */
WEFT_API int weft_chan_send(weft_chan *ch, const void *item, int timeout_ms);
/* 0 and the item; -ETIMEDOUT / -EAGAIN; -ECANCELED; WEFT_ECLOSED once
 * closed and empty; -EPERM. */
WEFT_API int weft_chan_recv(weft_chan *ch, void *item, int timeout_ms);
/* Close: later sends fail with WEFT_ECLOSED; receivers drain what is
 * buffered, then get WEFT_ECLOSED; every waiter wakes. Idempotent. */
WEFT_API int weft_chan_close(weft_chan *ch);
/* Items buffered now. */
WEFT_API size_t weft_chan_len(const weft_chan *ch);
/* -EBUSY while a coroutine waits on it. NULL: no-op. */
WEFT_API int weft_chan_destroy(weft_chan *ch);

/* One case of a select: send *item to ch, or receive into item. */
enum { WEFT_CHAN_SEND = 1, WEFT_CHAN_RECV = 2 };
typedef struct weft_chan_case {
    weft_chan *ch;
    int op;     /* WEFT_CHAN_SEND or WEFT_CHAN_RECV */
    void *item; /* the value to send, or where to receive */
    int result; /* set for the chosen case: 0 or WEFT_ECLOSED */
} weft_chan_case;

/* Go's select: wait until one of the n cases can proceed, do it, and
 * return its index (its result field says 0, or WEFT_ECLOSED for a
 * receive from a closed channel or a send to one). When several are ready
 * at once, the first in the array wins. A case whose ch is NULL is never
 * ready (Go's nil channel: a way to switch a case off); n 0 waits for the
 * timeout or a cancel. -ETIMEDOUT / -EAGAIN (timeout 0: Go's default
 * case), -ECANCELED, -EINVAL, -EPERM. */
WEFT_API int weft_chan_select(weft_chan_case *cases, size_t n, int timeout_ms);

/* ---- coroutine synchronization
 * ----------------------------------------------- */

typedef struct weft_co_sem weft_co_sem;
typedef struct weft_co_event weft_co_event;
typedef struct weft_co_wg weft_co_wg;

/* A counting semaphore (value at most INT_MAX: -EINVAL). acquire: 0;
 * -ETIMEDOUT / -EAGAIN; -ECANCELED; -EPERM. release hands the permit to
 * the longest waiter (-EOVERFLOW at INT_MAX). */
WEFT_API int weft_co_sem_create(weft_co_sem **out, unsigned value);
WEFT_API int weft_co_sem_acquire(weft_co_sem *s, int timeout_ms);
WEFT_API int weft_co_sem_release(weft_co_sem *s);
WEFT_API int weft_co_sem_value(const weft_co_sem *s);
WEFT_API int weft_co_sem_destroy(weft_co_sem *s);

/* An event: set wakes every waiter; wait returns at once while set, and
 * errors as the semaphore's acquire. */
WEFT_API int weft_co_event_create(weft_co_event **out);
WEFT_API int weft_co_event_set(weft_co_event *e);
WEFT_API int weft_co_event_clear(weft_co_event *e);
WEFT_API int weft_co_event_is_set(const weft_co_event *e);
WEFT_API int weft_co_event_wait(weft_co_event *e, int timeout_ms);
WEFT_API int weft_co_event_destroy(weft_co_event *e);

/* A wait group (Go's sync.WaitGroup): add(n) before starting n pieces of
 * work, done() as each finishes, wait() until the count is 0 (errors as
 * the semaphore's acquire). A done() too many is -EOVERFLOW; add making
 * the count negative is -EINVAL, above INT_MAX -EOVERFLOW. */
WEFT_API int weft_co_wg_create(weft_co_wg **out);
WEFT_API int weft_co_wg_add(weft_co_wg *wg, int n);
WEFT_API int weft_co_wg_done(weft_co_wg *wg);
WEFT_API int weft_co_wg_wait(weft_co_wg *wg, int timeout_ms);
WEFT_API int weft_co_wg_destroy(weft_co_wg *wg);

#ifdef __cplusplus
}
#endif
#endif
