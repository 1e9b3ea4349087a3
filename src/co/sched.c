/* sched.c - the coroutine scheduler: one per thread, a run queue, a timer
 * heap and an epoll set (io.c), stacks from slabs (stack.c).
 *
 * The scheduler's loop runs on the thread's own stack (main_ctx). It takes
 * coroutines from the run queue in FIFO order and switches to each; a
 * coroutine switches back when it parks (sleep, join, I/O, channels), yields
 * or finishes. With nothing runnable the loop sleeps in epoll_wait until a
 * descriptor is ready or the earliest deadline in the heap is due.
 *
 * States: RUNNABLE (in the run queue), RUNNING, PARKED (waiting for
 * weft__co_wake, a deadline or a cancel), SWITCHED (suspended in
 * weft_co_switch, waiting for a value), DONE.
 */
#include "co/co_int.h"
#include "co/ctx_int.h"
#include "co/sched_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* initial-exec: one load from the thread pointer instead of a call to
 * __tls_get_addr on every switch (~10% of one). It takes 8 bytes of the
 * static TLS space glibc keeps for libraries, also when dlopen'ed. */
static _Thread_local struct weft__sched *tls_sched
    __attribute__((tls_model("initial-exec")));
static _Atomic uint64_t next_id = 1;

struct weft__sched *weft__sched_current(void)
{
    return tls_sched;
}

weft_co *weft__co_current(void)
{
    return tls_sched != NULL ? tls_sched->current : NULL;
}

/* ---- the timer heap (a binary min-heap on deadline) ------------------------
 */

static void heap_swap(struct weft__sched *s, size_t a, size_t b)
{
    weft_co *t = s->heap[a];
    s->heap[a] = s->heap[b];
    s->heap[b] = t;
    s->heap[a]->heap_idx = a;
    s->heap[b]->heap_idx = b;
}

static void heap_up(struct weft__sched *s, size_t i)
{
    while (i > 0 && s->heap[(i - 1) / 2]->deadline > s->heap[i]->deadline) {
        heap_swap(s, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void heap_down(struct weft__sched *s, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->nheap && s->heap[l]->deadline < s->heap[m]->deadline)
            m = l;
        if (r < s->nheap && s->heap[r]->deadline < s->heap[m]->deadline)
            m = r;
        if (m == i)
            return;
        heap_swap(s, i, m);
        i = m;
    }
}

static int heap_push(struct weft__sched *s, weft_co *c)
{
    if (s->nheap == s->heap_cap) {
        size_t cap = s->heap_cap ? s->heap_cap * 2 : 64;
        weft_co **h = realloc(s->heap, cap * sizeof *h);
        if (h == NULL)
            return -ENOMEM;
        s->heap = h;
        s->heap_cap = cap;
    }
    c->heap_idx = s->nheap;
    s->heap[s->nheap++] = c;
    heap_up(s, c->heap_idx);
    return 0;
}

static void heap_remove(struct weft__sched *s, weft_co *c)
{
    size_t i = c->heap_idx;
    if (i == WEFT__NO_HEAP)
        return;
    c->heap_idx = WEFT__NO_HEAP;
    s->nheap--;
    if (i == s->nheap)
        return;
    s->heap[i] = s->heap[s->nheap];
    s->heap[i]->heap_idx = i;
    heap_down(s, i);
    heap_up(s, i);
}

/* ---- the run queue
 * ------------------------------------------------------------ */

/* Queue c to run (a coroutine suspended in weft_co_switch keeps that
 * state: it resumes with the value 0). */
static void rq_link(struct weft__sched *s, weft_co *c)
{
    if (c->in_rq)
        return;
    c->in_rq = true;
    c->rq_next = NULL;
    if (s->rq_tail != NULL)
        s->rq_tail->rq_next = c;
    else
        s->rq_head = c;
    s->rq_tail = c;
}

static void rq_push(struct weft__sched *s, weft_co *c)
{
    c->state = WEFT__CO_RUNNABLE;
    rq_link(s, c);
}

static weft_co *rq_pop(struct weft__sched *s)
{
    weft_co *c = s->rq_head;
    if (c != NULL) {
        s->rq_head = c->rq_next;
        if (s->rq_head == NULL)
            s->rq_tail = NULL;
        c->rq_next = NULL;
        c->in_rq = false;
    }
    return c;
}

static void rq_remove(struct weft__sched *s, weft_co *c)
{
    if (!c->in_rq)
        return;
    weft_co **p = &s->rq_head, *prev = NULL;
    while (*p != c) {
        prev = *p;
        p = &(*p)->rq_next;
    }
    *p = c->rq_next;
    if (s->rq_tail == c)
        s->rq_tail = prev;
    c->rq_next = NULL;
    c->in_rq = false;
}

/* ---- switching
 * ------------------------------------------------------------------ */

/* Switch from the running context (a coroutine, or the loop when from is
 * NULL) to `to` (NULL: the loop). */
static void switch_to(struct weft__sched *s, weft_co *from, weft_co *to)
{
    struct weft__ctx *fc = from != NULL ? &from->ctx : &s->main_ctx;
    struct weft__ctx *tc = to != NULL ? &to->ctx : &s->main_ctx;
#if WEFT__CO_ASAN
    void *fake = NULL;
    const void *lo = to != NULL ? to->stack->lo : s->main_lo;
    size_t size = to != NULL ? to->stack->size : s->main_size;
    bool dying = from != NULL && from->state == WEFT__CO_DONE;
    __sanitizer_start_switch_fiber(dying ? NULL : &fake, lo, size);
#endif
    s->current = to;
    weft__ctx_swap(fc, tc);
#if WEFT__CO_ASAN
    __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
}

/* The running coroutine gives the thread back to the loop. */
static void to_loop(struct weft__sched *s)
{
    switch_to(s, s->current, NULL);
}

static void co_finish(struct weft__sched *s, weft_co *c);

static void co_entry(void *arg)
{
    weft_co *c = arg;
    struct weft__sched *s = c->sched;
#if WEFT__CO_ASAN
    __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
    c->result = c->fn(c->arg);
    co_finish(s, c);
    to_loop(s); /* never comes back: the loop recycles this stack */
    abort();
}

/* ---- park and wake
 * ------------------------------------------------------------- */

int weft__co_park(weft_deadline deadline)
{
    struct weft__sched *s = tls_sched;
    weft_co *c = s != NULL ? s->current : NULL;
    if (c == NULL)
        return -EPERM;
    if (c->cancelled)
        return -ECANCELED;
    if (deadline != WEFT_DEADLINE_NEVER) {
        if (weft_deadline_expired(deadline))
            return -ETIMEDOUT;
        c->deadline = deadline;
        if (heap_push(s, c) < 0)
            return -ENOMEM;
    }
    c->state = WEFT__CO_PARKED;
    c->park_result = 0;
    to_loop(s);
    return c->park_result;
}

/* Make a parked (or switched) coroutine runnable with result rc. */
static void unpark(struct weft__sched *s, weft_co *c, int rc)
{
    if (c->state == WEFT__CO_SWITCHED) {
        c->park_result = rc;
        rq_link(s, c);
        return;
    }
    if (c->state != WEFT__CO_PARKED)
        return;
    heap_remove(s, c);
    c->park_result = rc;
    rq_push(s, c);
}

void weft__co_wake(weft_co *c)
{
    if (c != NULL)
        unpark(c->sched, c, 0);
}

bool weft__co_is_cancelled(weft_co *c)
{
    if (c == NULL)
        c = weft__co_current();
    return c != NULL && c->cancelled;
}

/* ---- coroutines
 * ----------------------------------------------------------------- */

/* Handles freed while their scheduler runs on this thread go to its free
 * list: spawn reuses them without calloc (a fifth of spawn+join's cost). */
#define FREE_COS_MAX 1024

static void co_unref(weft_co *c)
{
    if (--c->refs > 0)
        return;
    struct weft__sched *s = tls_sched;
    if (s != NULL && c->sched == s && s->nfree_cos < FREE_COS_MAX) {
        c->rq_next = s->free_cos;
        s->free_cos = c;
        s->nfree_cos++;
        return;
    }
    free(c);
}

static void co_finish(struct weft__sched *s, weft_co *c)
{
    c->state = WEFT__CO_DONE;
    for (struct weft__joiner *j = c->joiners; j != NULL; j = j->next)
        weft__co_wake(j->co);
    c->joiners = NULL;
    if (c->all_prev != NULL)
        c->all_prev->all_next = c->all_next;
    else
        s->all = c->all_next;
    if (c->all_next != NULL)
        c->all_next->all_prev = c->all_prev;
    s->live--;
    /* Its stack is still in use until it has switched away: the loop
     * recycles it then. */
    s->dead = c;
}

static int spawn(struct weft__sched *s, weft_co **out, weft_co_fn fn, void *arg,
                 const weft_co_opts *opts)
{
    size_t size =
        opts != NULL && opts->stack_size ? opts->stack_size : s->stack_size;
    if (fn == NULL || size < WEFT_CO_STACK_MIN)
        return -EINVAL;
    weft_co *c = s->free_cos;
    if (c != NULL) {
        s->free_cos = c->rq_next;
        s->nfree_cos--;
        memset(c, 0, sizeof *c);
    } else if ((c = calloc(1, sizeof *c)) == NULL) {
        return -ENOMEM;
    }
    int rc = weft__stack_get(s, size, &c->stack);
    if (rc < 0) {
        free(c);
        return rc;
    }
    c->sched = s;
    c->id = atomic_fetch_add_explicit(&next_id, 1, memory_order_relaxed);
    c->fn = fn;
    c->arg = arg;
    c->heap_idx = WEFT__NO_HEAP;
    c->refs = out != NULL ? 2 : 1;
    weft__ctx_make(&c->ctx, c->stack->lo, c->stack->size, co_entry, c);
    c->all_next = s->all;
    if (s->all != NULL)
        s->all->all_prev = c;
    s->all = c;
    s->live++;
    rq_push(s, c);
    if (out != NULL)
        *out = c;
    return 0;
}

int weft_co_spawn(weft_co **out, weft_co_fn fn, void *arg,
                  const weft_co_opts *opts)
{
    struct weft__sched *s = tls_sched;
    if (s == NULL)
        return -EPERM;
    return spawn(s, out, fn, arg, opts);
}

int weft_co_yield(void)
{
    struct weft__sched *s = tls_sched;
    if (s == NULL || s->current == NULL)
        return -EPERM;
    rq_push(s, s->current);
    to_loop(s);
    return 0;
}

int weft_co_sleep(int ms)
{
    if (ms < 0)
        return -EINVAL;
    if (weft__co_current() == NULL)
        return weft_sleep_ms(ms);
    int rc = weft__co_park(weft_deadline_in(ms));
    return rc == -ETIMEDOUT ? 0 : rc == 0 ? 0 : rc;
}

static bool mine(const weft_co *c)
{
    return c != NULL && tls_sched != NULL && c->sched == tls_sched;
}

int weft_co_join(weft_co *c, int timeout_ms, int *result)
{
    if (c == NULL || (tls_sched != NULL && c->sched != tls_sched))
        return -EINVAL;
    if (c->state == WEFT__CO_DONE) {
        if (result != NULL)
            *result = c->result;
        return 0;
    }
    weft_co *self = weft__co_current();
    if (self == NULL)
        return -EPERM;
    if (self == c)
        return -EDEADLK;
    struct weft__joiner j = {.co = self, .next = c->joiners};
    c->joiners = &j;
    int rc = weft__co_park(weft_deadline_in(timeout_ms));
    if (c->state == WEFT__CO_DONE) {
        if (result != NULL)
            *result = c->result;
        return 0;
    }
    /* Timed out or cancelled: leave the list. */
    for (struct weft__joiner **p = &c->joiners; *p != NULL; p = &(*p)->next)
        if (*p == &j) {
            *p = j.next;
            break;
        }
    if (rc == -ETIMEDOUT && timeout_ms == 0)
        return -EAGAIN;
    return rc < 0 ? rc : -EINTR;
}

int weft_co_join_all(weft_co *const *cs, size_t n, int timeout_ms)
{
    if (cs == NULL && n > 0)
        return -EINVAL;
    weft_deadline d = weft_deadline_in(timeout_ms);
    for (size_t i = 0; i < n; i++) {
        if (cs[i] == NULL)
            continue;
        int left = weft_deadline_remaining_ms(d);
        int rc = weft_co_join(cs[i], left, NULL);
        if (rc < 0)
            return rc == -EAGAIN && timeout_ms != 0 ? -ETIMEDOUT : rc;
    }
    return 0;
}

int weft_co_cancel(weft_co *c)
{
    if (c == NULL || (tls_sched != NULL && c->sched != tls_sched))
        return -EINVAL;
    if (c->state == WEFT__CO_DONE)
        return 0;
    c->cancelled = true;
    unpark(c->sched, c, -ECANCELED);
    return 0;
}

int weft_co_cancelled(void)
{
    return weft__co_is_cancelled(NULL);
}

int weft_co_done(const weft_co *c)
{
    return c != NULL && c->state == WEFT__CO_DONE;
}

void weft_co_release(weft_co *c)
{
    if (c != NULL)
        co_unref(c);
}

weft_co *weft_co_self(void)
{
    return weft__co_current();
}

uint64_t weft_co_id(void)
{
    weft_co *c = weft__co_current();
    return c != NULL ? c->id : 0;
}

uint64_t weft_co_get_id(const weft_co *c)
{
    return c != NULL ? c->id : 0;
}

int weft_co_switch(weft_co *to, intptr_t value, intptr_t *received)
{
    struct weft__sched *s = tls_sched;
    weft_co *self = weft__co_current();
    if (self == NULL)
        return -EPERM;
    if (!mine(to) || to->state == WEFT__CO_DONE)
        return -EINVAL;
    if (to == self)
        return -EDEADLK;
    if (self->cancelled)
        return -ECANCELED;
    if (to->state == WEFT__CO_PARKED)
        return -EINVAL; /* blocked elsewhere: not ours to disturb */
    /* `to` runs now, out of its turn; it receives value if it waits in a
     * switch of its own. */
    if (to->state == WEFT__CO_SWITCHED) {
        to->switch_value = value;
        to->park_result = 0;
    }
    rq_remove(s, to);
    /* The caller stays queued, so the loop resumes it (with 0) if `to`
     * blocks, yields or ends without switching back. */
    self->state = WEFT__CO_SWITCHED;
    self->switch_value = 0;
    self->park_result = 0;
    rq_link(s, self);
    to->state = WEFT__CO_RUNNING;
    switch_to(s, self, to);
    self->state = WEFT__CO_RUNNING;
    if (received != NULL)
        *received = self->switch_value;
    return self->park_result;
}

/* ---- the loop
 * ------------------------------------------------------------------- */

/* Everything left is blocked with nothing that could wake it: cancel
 * them all so they clean up (gevent's LoopExit, made graceful). */
static void break_deadlock(struct weft__sched *s)
{
    s->deadlocked = true;
    for (weft_co *c = s->all; c != NULL; c = c->all_next) {
        c->cancelled = true;
        unpark(s, c, -ECANCELED);
    }
}

static void run_loop(struct weft__sched *s)
{
    while (s->live > 0) {
        weft_co *c;
        while ((c = rq_pop(s)) != NULL) {
            c->state = WEFT__CO_RUNNING;
            switch_to(s, NULL, c);
            if (s->dead != NULL) {
                weft_co *d = s->dead;
                s->dead = NULL;
                weft__stack_put(s, d->stack);
                d->stack = NULL;
                co_unref(d);
            }
        }
        if (s->live == 0)
            break;
        /* Expire due timers first; then wait for I/O or the next one. */
        int64_t now = weft_now_ns();
        while (s->nheap > 0 && s->heap[0]->deadline <= now)
            unpark(s, s->heap[0], -ETIMEDOUT);
        if (s->rq_head != NULL)
            continue;
        if (s->nheap == 0 && s->fd_waiters == 0) {
            break_deadlock(s);
            continue;
        }
        int64_t wait_ns = s->nheap > 0 ? s->heap[0]->deadline - now : -1;
        weft__io_poll(s, wait_ns);
    }
}

int weft_co_run(weft_co_fn fn, void *arg, const weft_co_opts *opts, int *result)
{
    if (fn == NULL)
        return -EINVAL;
    if (opts != NULL && opts->stack_size != 0 &&
        opts->stack_size < WEFT_CO_STACK_MIN)
        return -EINVAL;
    if (tls_sched != NULL)
        return -EBUSY;
    struct weft__sched *s = calloc(1, sizeof *s);
    if (s == NULL)
        return -ENOMEM;
    s->stack_size = opts != NULL && opts->stack_size ? opts->stack_size
                                                     : WEFT_CO_STACK_DEFAULT;
    int rc = weft__io_init(s);
    if (rc < 0) {
        free(s);
        return rc;
    }
#if WEFT__CO_ASAN
    pthread_attr_t a;
    if (pthread_getattr_np(pthread_self(), &a) == 0) {
        void *lo;
        size_t size;
        pthread_attr_getstack(&a, &lo, &size);
        s->main_lo = lo;
        s->main_size = size;
        pthread_attr_destroy(&a);
    }
#endif
    tls_sched = s;
    weft_co *first;
    rc = spawn(s, &first, fn, arg, opts);
    if (rc == 0) {
        run_loop(s);
        if (result != NULL)
            *result = first->result;
        co_unref(first);
        rc = s->deadlocked ? -EDEADLK : 0;
    }
    tls_sched = NULL;
    weft__io_fini(s);
    weft__stacks_free(s);
    while (s->free_cos != NULL) {
        weft_co *c = s->free_cos;
        s->free_cos = c->rq_next;
        free(c);
    }
    free(s->heap);
    free(s);
    return rc;
}
