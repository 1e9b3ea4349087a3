/* sched_int.h - the scheduler's and the coroutines' structures, shared by
 * sched.c, stack.c and io.c. */
#ifndef WEFT_CO_SCHED_INT_H
#define WEFT_CO_SCHED_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "co/ctx_int.h"

#include <weft/co.h>

/* AddressSanitizer must be told when the stack changes under it. */
#if defined(__SANITIZE_ADDRESS__)
#define WEFT__CO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT__CO_ASAN 1
#endif
#endif
#ifndef WEFT__CO_ASAN
#define WEFT__CO_ASAN 0
#endif
#if WEFT__CO_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

enum {
    WEFT__CO_RUNNABLE = 0,
    WEFT__CO_RUNNING,
    WEFT__CO_PARKED,
    WEFT__CO_SWITCHED,
    WEFT__CO_DONE
};

#define WEFT__NO_HEAP SIZE_MAX

struct weft__stack {
    void *lo;     /* lowest usable byte (just above the guard page) */
    size_t size;  /* usable bytes */
    bool guarded; /* a guard page lies below lo */
    struct weft__stack *next; /* in the free list */
};

struct weft__joiner {
    weft_co *co;
    struct weft__joiner *next;
};

struct weft__sched;

struct weft_co {
    struct weft__ctx ctx;
    struct weft__sched *sched;
    uint64_t id;
    weft_co_fn fn;
    void *arg;
    int result;
    int state;       /* WEFT__CO_* */
    int park_result; /* what weft__co_park returns when it resumes */
    bool cancelled;
    bool in_rq;
    int refs; /* the scheduler's (until it ends) + the caller's handle */
    weft_co *rq_next;
    int64_t deadline; /* while in the timer heap */
    size_t heap_idx;
    struct weft__joiner *joiners;
    intptr_t switch_value;
    int io_events; /* set by the poller for a coroutine waiting on a fd */
    struct weft__stack *stack;
    weft_co *all_prev, *all_next; /* every coroutine not finished */
};

/* A descriptor being waited on (io.c); indexed by descriptor number. */
struct weft__fdwait {
    weft_co *reader, *writer;
    bool registered; /* in the epoll set (armed one-shot or disarmed) */
};

struct weft__slab;

struct weft__sched {
    struct weft__ctx main_ctx; /* the loop, on the thread's own stack */
    weft_co *current;
    weft_co *rq_head, *rq_tail;
    weft_co **heap;
    size_t nheap, heap_cap;
    weft_co *all;
    size_t live;
    weft_co *dead; /* finished, its stack still to recycle */
    bool deadlocked;
    size_t stack_size; /* default for spawn */
    /* io.c */
    int epfd;
    struct weft__fdwait *fds;
    size_t nfds;
    size_t fd_waiters;
    /* stack.c */
    struct weft__stack *free_stacks;
    weft_co *free_cos; /* handles to reuse (sched.c) */
    size_t nfree_cos;
    struct weft__slab *slabs;
#if WEFT__CO_ASAN
    const void *main_lo;
    size_t main_size;
#endif
};

struct weft__sched *weft__sched_current(void);

/* stack.c: a stack of at least size usable bytes (from the free list or a
 * slab), and giving one back. */
int weft__stack_get(struct weft__sched *s, size_t size,
                    struct weft__stack **out);
void weft__stack_put(struct weft__sched *s, struct weft__stack *st);
void weft__stacks_free(struct weft__sched *s);
/* Tests: use the fallback for kernels without MADV_GUARD_INSTALL. */
void weft__stack_force_mprotect(void);

/* io.c: the epoll set. poll waits up to wait_ns (< 0: no limit) and wakes
 * the coroutines whose descriptors are ready. */
int weft__io_init(struct weft__sched *s);
void weft__io_poll(struct weft__sched *s, int64_t wait_ns);
void weft__io_fini(struct weft__sched *s);

#endif
