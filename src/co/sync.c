/* sync.c - synchronization between the coroutines of one scheduler: a
 * counting semaphore, an event and a wait group (weft/co.h).
 *
 * Design
 *   As chan.c: one scheduler, one thread, a coroutine runs until it parks,
 *   so no locks and no system calls. Each object keeps a FIFO list of
 *   waiter records that live on the waiting coroutines' stacks. A waker
 *   takes a record off the list, marks it done and wakes its coroutine
 *   (weft__co_wake); the woken coroutine finds it done and returns 0
 *   without touching the object again, so the waker may destroy it.
 *
 *   A waiter whose park fails (deadline, cancel) checks its record first:
 *   if a waker marked it done in the meantime, the wait succeeded (a
 *   semaphore permit handed over is never lost); otherwise it unlinks
 *   itself and returns the error.
 *
 *   Semaphore: release hands its permit straight to the longest waiter,
 *   so value > 0 only while nobody waits and a newcomer cannot overtake a
 *   waiter. Event: set wakes every waiter; they return 0 even if the
 *   event is cleared before they run (Python's threading.Event). Wait
 *   group: the count reaching 0 wakes every waiter, likewise.
 *
 *   A call that can complete at once does, even in a cancelled coroutine;
 *   one that would wait returns -EAGAIN for timeout 0, -EPERM outside a
 *   scheduler, -ECANCELED in a cancelled coroutine.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>

#include "co/co_int.h"

#include <weft/co.h>

/* One waiting coroutine, on its stack. */
struct sync_waiter {
    struct sync_waiter *prev; /* neighbours in the object's list */
    struct sync_waiter *next;
    weft_co *co; /* the waiting coroutine */
    bool done;   /* a waker took it off the list: the wait succeeded */
};

/* A FIFO of waiters. */
struct sync_list {
    struct sync_waiter *head; /* the longest waiting */
    struct sync_waiter *tail;
};

struct weft_co_sem {
    int value;              /* permits available; 0 while anybody waits */
    struct sync_list waits; /* blocked in acquire */
};

struct weft_co_event {
    bool set;               /* the flag */
    struct sync_list waits; /* blocked in wait */
};

struct weft_co_wg {
    int count;              /* pieces of work not done */
    struct sync_list waits; /* blocked in wait */
};

/* ---- waiter lists ----------------------------------------------------- */

static void list_push(struct sync_list *l, struct sync_waiter *w)
{
    WEFT__LIST_PUSH(l, w);
}

static void list_remove(struct sync_list *l, struct sync_waiter *w)
{
    WEFT__LIST_REMOVE(l, w);
}

/* Complete the longest waiter. */
static void wake_first(struct sync_list *l)
{
    struct sync_waiter *w = l->head;

    list_remove(l, w);
    w->done = true;
    weft__co_wake(w->co);
}

static void wake_all(struct sync_list *l)
{
    while (l->head != NULL)
        wake_first(l);
}

/* Wait on l until a waker completes the caller, timeout_ms passes or the
 * caller is cancelled: 0, -EAGAIN (timeout 0), -ETIMEDOUT, -ECANCELED,
 * -EPERM (outside a scheduler). */
static int wait_on(struct sync_list *l, int timeout_ms)
{
    struct sync_waiter w = {NULL, NULL, NULL, false};
    weft_deadline dl;
    int rc;

    if (timeout_ms == 0)
        return -EAGAIN;
    w.co = weft__co_current();
    if (w.co == NULL)
        return -EPERM;
    if (weft__co_is_cancelled(w.co))
        return -ECANCELED;
    dl = weft_deadline_in(timeout_ms);
    list_push(l, &w);
    for (;;) {
        rc = weft__co_park(dl);
        /* Done counts even if the deadline or a cancel came too. */
        if (w.done)
            return 0;
        if (rc < 0) {
            list_remove(l, &w);
            return rc;
        }
        /* Woken by somebody else: wait on. */
    }
}

/* ---- semaphore ----------------------------------------------------------- */

int weft_co_sem_create(weft_co_sem **out, unsigned value)
{
    weft_co_sem *s;

    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    if (value > INT_MAX)
        return -EINVAL;
    s = calloc(1, sizeof *s);
    if (s == NULL)
        return -ENOMEM;
    s->value = (int)value;
    *out = s;
    return 0;
}

int weft_co_sem_acquire(weft_co_sem *s, int timeout_ms)
{
    if (s == NULL)
        return -EINVAL;
    if (s->value > 0) {
        s->value--;
        return 0;
    }
    /* The permit comes from release, handed over directly. */
    return wait_on(&s->waits, timeout_ms);
}

int weft_co_sem_release(weft_co_sem *s)
{
    if (s == NULL)
        return -EINVAL;
    if (s->waits.head != NULL) {
        wake_first(&s->waits);
        return 0;
    }
    if (s->value == INT_MAX)
        return -EOVERFLOW;
    s->value++;
    return 0;
}

int weft_co_sem_value(const weft_co_sem *s)
{
    if (s == NULL)
        return -EINVAL;
    return s->value;
}

int weft_co_sem_destroy(weft_co_sem *s)
{
    if (s == NULL)
        return 0;
    if (s->waits.head != NULL)
        return -EBUSY;
    free(s);
    return 0;
}

/* ---- event ------------------------------------------------------------------
 */

int weft_co_event_create(weft_co_event **out)
{
    weft_co_event *e;

    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    e = calloc(1, sizeof *e);
    if (e == NULL)
        return -ENOMEM;
    *out = e;
    return 0;
}

int weft_co_event_set(weft_co_event *e)
{
    if (e == NULL)
        return -EINVAL;
    e->set = true;
    wake_all(&e->waits);
    return 0;
}

int weft_co_event_clear(weft_co_event *e)
{
    if (e == NULL)
        return -EINVAL;
    e->set = false;
    return 0;
}

int weft_co_event_is_set(const weft_co_event *e)
{
    if (e == NULL)
        return -EINVAL;
    return e->set ? 1 : 0;
}

int weft_co_event_wait(weft_co_event *e, int timeout_ms)
{
    if (e == NULL)
        return -EINVAL;
    if (e->set)
        return 0;
    return wait_on(&e->waits, timeout_ms);
}

int weft_co_event_destroy(weft_co_event *e)
{
    if (e == NULL)
        return 0;
    if (e->waits.head != NULL)
        return -EBUSY;
    free(e);
    return 0;
}

/* ---- wait group -------------------------------------------------------------
 */

int weft_co_wg_create(weft_co_wg **out)
{
    weft_co_wg *wg;

    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    wg = calloc(1, sizeof *wg);
    if (wg == NULL)
        return -ENOMEM;
    *out = wg;
    return 0;
}

int weft_co_wg_add(weft_co_wg *wg, int n)
{
    long long total;

    if (wg == NULL)
        return -EINVAL;
    total = (long long)wg->count + n;
    if (total < 0)
        return -EINVAL;
    if (total > INT_MAX)
        return -EOVERFLOW;
    wg->count = (int)total;
    if (wg->count == 0)
        wake_all(&wg->waits);
    return 0;
}

int weft_co_wg_done(weft_co_wg *wg)
{
    if (wg == NULL)
        return -EINVAL;
    if (wg->count == 0)
        return -EOVERFLOW;
    return weft_co_wg_add(wg, -1);
}

int weft_co_wg_wait(weft_co_wg *wg, int timeout_ms)
{
    if (wg == NULL)
        return -EINVAL;
    if (wg->count == 0)
        return 0;
    return wait_on(&wg->waits, timeout_ms);
}

int weft_co_wg_destroy(weft_co_wg *wg)
{
    if (wg == NULL)
        return 0;
    if (wg->waits.head != NULL)
        return -EBUSY;
    free(wg);
    return 0;
}
