/* future.c - futures: the outcome of one task, waited for with a futex on
 * its state word, plus done callbacks, wait-on-many and as_completed.
 *
 * A future is reference-counted: the submitter holds one reference, the
 * pool another until the task ends. Its outcome is written once, under its
 * mutex, by whoever finishes it first (a worker's report, a cancel, a
 * terminate); the rest find it done and drop theirs.
 */
#include "pool/pool_int.h"
#include "sync/sync_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

weft_future *weft__future_new(weft_pool *pool)
{
    weft_future *f = calloc(1, sizeof *f);
    if (f == NULL)
        return NULL;
    pthread_mutex_init(&f->mu, NULL);
    atomic_init(&f->refs, 1);
    f->pool = pool;
    f->slot = -1;
    return f;
}

void weft__future_ref(weft_future *f)
{
    atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
}

void weft_future_release(weft_future *f)
{
    if (f == NULL)
        return;
    if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1)
        return;
    struct weft__fut_cb *cb = f->cbs;
    while (cb != NULL) {
        struct weft__fut_cb *next = cb->next;
        free(cb);
        cb = next;
    }
    if (f->data != f->inline_data)
        free(f->data);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

bool weft__future_claim(weft_future *f)
{
    uint32_t expect = WEFT__FUT_PENDING;
    return atomic_compare_exchange_strong(&f->state, &expect,
                                          WEFT__FUT_RUNNING);
}

bool weft__future_finish(weft_future *f, int error, int status, void *data,
                         size_t len, bool own)
{
    pthread_mutex_lock(&f->mu);
    if (atomic_load_explicit(&f->state, memory_order_relaxed) ==
        WEFT__FUT_DONE) {
        pthread_mutex_unlock(&f->mu);
        if (own)
            free(data);
        return false;
    }
    f->error = error;
    f->status = status;
    f->len = len;
    if (len <= sizeof f->inline_data) {
        if (len > 0)
            memcpy(f->inline_data, data, len);
        f->data = f->inline_data;
        if (own)
            free(data);
    } else if (own) {
        f->data = data;
    } else {
        f->data = malloc(len);
        if (f->data == NULL) {
            f->data = f->inline_data;
            f->len = 0;
            f->error = -ENOMEM;
        } else {
            memcpy(f->data, data, len);
        }
    }
    struct weft__fut_cb *cbs = f->cbs;
    f->cbs = NULL;
    f->pool = NULL; /* nothing left to cancel: the pool may go away */
    atomic_store_explicit(&f->state, WEFT__FUT_DONE, memory_order_release);
    for (struct weft__fut_waiter *w = f->waiters; w != NULL;) {
        struct weft__fut_waiter *next = w->next;
        w->linked = false;
        w->prev = w->next = NULL;
        w->notify(w);
        w = next;
    }
    f->waiters = NULL;
    /* A reference for the callbacks: the last release may come from one. */
    weft__future_ref(f);
    pthread_mutex_unlock(&f->mu);
    if (atomic_load(&f->sleepers) > 0)
        weft__futex_wake(&f->state, INT32_MAX, false);

    /* Run the callbacks in the order they were added. */
    struct weft__fut_cb *rev = NULL;
    while (cbs != NULL) {
        struct weft__fut_cb *next = cbs->next;
        cbs->next = rev;
        rev = cbs;
        cbs = next;
    }
    while (rev != NULL) {
        struct weft__fut_cb *next = rev->next;
        rev->cb(f, rev->ud);
        free(rev);
        rev = next;
    }
    weft_future_release(f);
    return true;
}

int weft_future_wait(weft_future *f, int timeout_ms)
{
    if (f == NULL)
        return -EINVAL;
    weft_deadline d = weft_deadline_in(timeout_ms);
    for (;;) {
        uint32_t s = atomic_load_explicit(&f->state, memory_order_acquire);
        if (s == WEFT__FUT_DONE)
            return 0;
        if (weft_deadline_expired(d))
            return timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
        atomic_fetch_add(&f->sleepers, 1);
        s = atomic_load(&f->state);
        if (s != WEFT__FUT_DONE)
            weft__futex_wait(&f->state, s, false, d);
        atomic_fetch_sub(&f->sleepers, 1);
    }
}

int weft_future_done(weft_future *f)
{
    if (f == NULL)
        return -EINVAL;
    return atomic_load_explicit(&f->state, memory_order_acquire) ==
           WEFT__FUT_DONE;
}

int weft_future_cancelled(weft_future *f)
{
    if (f == NULL)
        return -EINVAL;
    return weft_future_done(f) == 1 && f->error == -ECANCELED;
}

int weft_future_result(weft_future *f, int *status, const void **data,
                       size_t *len)
{
    if (f == NULL)
        return -EINVAL;
    weft_future_wait(f, -1);
    if (status != NULL)
        *status = f->status;
    if (data != NULL)
        *data = f->len > 0 ? f->data : NULL;
    if (len != NULL)
        *len = f->len;
    return f->error;
}

int weft_future_add_done_callback(weft_future *f, weft_future_cb cb, void *ud)
{
    if (f == NULL || cb == NULL)
        return -EINVAL;
    pthread_mutex_lock(&f->mu);
    if (atomic_load_explicit(&f->state, memory_order_relaxed) ==
        WEFT__FUT_DONE) {
        pthread_mutex_unlock(&f->mu);
        cb(f, ud);
        return 0;
    }
    struct weft__fut_cb *n = malloc(sizeof *n);
    if (n == NULL) {
        pthread_mutex_unlock(&f->mu);
        return -ENOMEM;
    }
    n->cb = cb;
    n->ud = ud;
    n->next = f->cbs;
    f->cbs = n;
    pthread_mutex_unlock(&f->mu);
    return 0;
}

/* ---- waiting on many ------------------------------------------------------
 */

/* Link w on f unless f is done; returns true if f was already done. */
static bool waiter_link(weft_future *f, struct weft__fut_waiter *w)
{
    pthread_mutex_lock(&f->mu);
    bool done =
        atomic_load_explicit(&f->state, memory_order_relaxed) == WEFT__FUT_DONE;
    if (!done) {
        w->f = f;
        w->prev = NULL;
        w->next = f->waiters;
        if (f->waiters != NULL)
            f->waiters->prev = w;
        f->waiters = w;
        w->linked = true;
    }
    pthread_mutex_unlock(&f->mu);
    return done;
}

static void waiter_unlink(struct weft__fut_waiter *w)
{
    weft_future *f = w->f;
    if (f == NULL)
        return;
    pthread_mutex_lock(&f->mu);
    if (w->linked) {
        if (w->prev != NULL)
            w->prev->next = w->next;
        else
            f->waiters = w->next;
        if (w->next != NULL)
            w->next->prev = w->prev;
        w->linked = false;
    }
    pthread_mutex_unlock(&f->mu);
}

struct wait_many {
    _Atomic uint32_t done;
};

static void wait_many_notify(struct weft__fut_waiter *w)
{
    struct wait_many *m = w->ctx;
    atomic_fetch_add(&m->done, 1);
    weft__futex_wake(&m->done, 1, false);
}

int weft_futures_wait(weft_future *const *fs, size_t n, int mode,
                      int timeout_ms)
{
    if ((fs == NULL && n > 0) ||
        (mode != WEFT_WAIT_ALL && mode != WEFT_WAIT_FIRST) || n > INT32_MAX)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (fs[i] == NULL)
            return -EINVAL;
    struct weft__fut_waiter *ws = calloc(n ? n : 1, sizeof *ws);
    if (ws == NULL)
        return -ENOMEM;
    struct wait_many m;
    atomic_init(&m.done, 0);
    for (size_t i = 0; i < n; i++) {
        ws[i].notify = wait_many_notify;
        ws[i].ctx = &m;
        if (waiter_link(fs[i], &ws[i]))
            atomic_fetch_add(&m.done, 1);
    }
    uint32_t need = mode == WEFT_WAIT_ALL ? (uint32_t)n : (n > 0 ? 1 : 0);
    weft_deadline d = weft_deadline_in(timeout_ms);
    int rc = 0;
    for (;;) {
        uint32_t c = atomic_load(&m.done);
        if (c >= need)
            break;
        if (weft_deadline_expired(d)) {
            rc = timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
            break;
        }
        weft__futex_wait(&m.done, c, false, d);
    }
    for (size_t i = 0; i < n; i++)
        waiter_unlink(&ws[i]);
    free(ws);
    if (rc < 0)
        return rc;
    int count = 0;
    for (size_t i = 0; i < n; i++)
        count += weft_future_done(fs[i]);
    return count;
}

/* ---- as_completed ------------------------------------------------------- */

struct weft_as_completed {
    pthread_mutex_t mu;
    _Atomic uint32_t seq; /* bumped on every completion: futex word */
    size_t n, handed;
    size_t head, tail; /* ring of completed, not yet handed out */
    weft_future **ring;
    struct weft__fut_waiter *ws;
};

static void ac_push(struct weft_as_completed *ac, weft_future *f)
{
    pthread_mutex_lock(&ac->mu);
    ac->ring[ac->tail % ac->n] = f;
    ac->tail++;
    pthread_mutex_unlock(&ac->mu);
    atomic_fetch_add(&ac->seq, 1);
    weft__futex_wake(&ac->seq, 1, false);
}

static void ac_notify(struct weft__fut_waiter *w)
{
    ac_push(w->ctx, w->f);
}

int weft_as_completed_create(weft_as_completed **out, weft_future *const *fs,
                             size_t n)
{
    if (out == NULL || (fs == NULL && n > 0))
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (fs[i] == NULL)
            return -EINVAL;
    struct weft_as_completed *ac = calloc(1, sizeof *ac);
    if (ac == NULL)
        return -ENOMEM;
    size_t cap = n ? n : 1;
    ac->ring = calloc(cap, sizeof *ac->ring);
    ac->ws = calloc(cap, sizeof *ac->ws);
    if (ac->ring == NULL || ac->ws == NULL) {
        free(ac->ring);
        free(ac->ws);
        free(ac);
        return -ENOMEM;
    }
    pthread_mutex_init(&ac->mu, NULL);
    ac->n = n;
    for (size_t i = 0; i < n; i++) {
        ac->ws[i].notify = ac_notify;
        ac->ws[i].ctx = ac;
        if (waiter_link(fs[i], &ac->ws[i]))
            ac_push(ac, fs[i]);
    }
    *out = ac;
    return 0;
}

int weft_as_completed_next(weft_as_completed *ac, int timeout_ms,
                           weft_future **f)
{
    if (ac == NULL || f == NULL)
        return -EINVAL;
    weft_deadline d = weft_deadline_in(timeout_ms);
    for (;;) {
        uint32_t seq = atomic_load(&ac->seq);
        pthread_mutex_lock(&ac->mu);
        if (ac->handed == ac->n) {
            pthread_mutex_unlock(&ac->mu);
            return WEFT_ECLOSED;
        }
        if (ac->head != ac->tail) {
            *f = ac->ring[ac->head % ac->n];
            ac->head++;
            ac->handed++;
            pthread_mutex_unlock(&ac->mu);
            return 0;
        }
        pthread_mutex_unlock(&ac->mu);
        if (weft_deadline_expired(d))
            return timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
        weft__futex_wait(&ac->seq, seq, false, d);
    }
}

void weft_as_completed_destroy(weft_as_completed *ac)
{
    if (ac == NULL)
        return;
    for (size_t i = 0; i < ac->n; i++)
        waiter_unlink(&ac->ws[i]);
    pthread_mutex_destroy(&ac->mu);
    free(ac->ring);
    free(ac->ws);
    free(ac);
}
