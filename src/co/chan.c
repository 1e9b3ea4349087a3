/* chan.c - channels between the coroutines of one scheduler, and Go's
 * select over several of them (weft/co.h).
 *
 * Design
 *   One scheduler runs in one thread and a coroutine runs until it parks,
 *   so nothing here takes a lock or makes a system call: every function
 *   runs to its end (or to its park) without anybody else touching the
 *   channel.
 *
 *   A channel holds a ring buffer of `capacity` items (none for an
 *   unbuffered channel; for WEFT_CHAN_UNBOUNDED an array that doubles when
 *   full and is freed when it empties) and two FIFO lists of waiters:
 *   coroutines blocked sending and blocked receiving. Invariants, true
 *   whenever no coroutine is running inside this file:
 *     - receivers wait only while the buffer is empty and the channel is
 *       open;
 *     - senders wait only while the buffer is full (always, for capacity
 *       0) and the channel is open;
 *     - every waiter in a list belongs to an operation not yet completed.
 *
 *   Hand-off: an operation that finds a partner waiting completes it on
 *   the spot. A send copies its item straight into a waiting receiver's
 *   buffer; a receive takes the oldest buffered item and moves the first
 *   waiting sender's item into the freed slot (unbuffered: copies the
 *   sender's item directly). The partner is then woken with
 *   weft__co_wake and finds its operation done when its park returns: it
 *   never touches the channel again, so whoever completed it may destroy
 *   the channel at once.
 *
 *   Waiting: every blocking operation - a send or receive is a select of
 *   one case - is a `chan_op` record on the waiting coroutine's stack
 *   with one `chan_waiter` per case, linked into that case's channel. The
 *   first channel to fire completes the op (done, case index, result)
 *   and unlinks all its waiters from every channel, so a select is
 *   completed by exactly one case and the others are left untouched.
 *
 *   A waiter whose park fails (deadline, cancel) checks its op first: if
 *   a partner completed it in the meantime (both can happen before the
 *   coroutine runs again), the operation succeeded and it reports that;
 *   otherwise it unlinks itself and returns the error. No item is ever
 *   lost or delivered twice.
 *
 *   Cancellation is Go-like: an operation that can complete at once does,
 *   even in a cancelled coroutine; only one that would wait returns
 *   -ECANCELED. With timeout 0 nothing waits, so that is -EAGAIN; outside
 *   a scheduler, an operation that would wait returns -EPERM.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "co/co_int.h"

#include <weft/co.h>

/* Cases of a select kept on the stack; more are allocated. */
#define CHAN_STACK_CASES 8
/* Slots of an unbounded channel's first allocation. */
#define CHAN_UNBOUNDED_FIRST 16

struct chan_waiter;

/* One blocking operation (a send, a receive or a whole select) of one
 * coroutine, on its stack while it waits. */
struct chan_op {
    weft_co *co;           /* the waiting coroutine */
    struct chan_waiter *w; /* its waiters, one per case (ch NULL: none) */
    size_t n;              /* entries in w */
    bool done;             /* completed by a partner or by close */
    size_t fired;          /* the completed case, once done */
    int result;            /* its result, once done: 0 or WEFT_ECLOSED */
};

/* One case of a waiting operation, linked into its channel's list. */
struct chan_waiter {
    struct chan_waiter *prev; /* neighbours in the channel's list */
    struct chan_waiter *next;
    weft_chan *ch;      /* the channel; NULL for a case never linked */
    struct chan_op *op; /* the operation this case belongs to */
    void *item;         /* send: the value; receive: where it goes */
    size_t index;       /* the case's index in the select */
    int kind;           /* WEFT_CHAN_SEND or WEFT_CHAN_RECV */
    bool linked;        /* in ch's list now */
};

/* A FIFO of waiters. */
struct chan_list {
    struct chan_waiter *head; /* the longest waiting */
    struct chan_waiter *tail;
};

struct weft_chan {
    size_t item_size;           /* bytes per item */
    size_t capacity;            /* 0, a bound, or WEFT_CHAN_UNBOUNDED */
    unsigned char *buf;         /* ring of `slots` items; NULL if none */
    size_t slots;               /* items buf holds */
    size_t head;                /* slot of the oldest buffered item */
    size_t count;               /* items buffered */
    bool closed;                /* weft_chan_close was called */
    struct chan_list senders;   /* blocked senders, FIFO */
    struct chan_list receivers; /* blocked receivers, FIFO */
};

/* ---- waiter lists ----------------------------------------------------- */

static void list_push(struct chan_list *l, struct chan_waiter *w)
{
    WEFT__LIST_PUSH(l, w);
    w->linked = true;
}

static void list_remove(struct chan_list *l, struct chan_waiter *w)
{
    WEFT__LIST_REMOVE(l, w);
    w->linked = false;
}

static struct chan_list *list_of(struct chan_waiter *w)
{
    return w->kind == WEFT_CHAN_SEND ? &w->ch->senders : &w->ch->receivers;
}

/* Take every case of op out of its channel's list. */
static void op_unlink(struct chan_op *op)
{
    for (size_t i = 0; i < op->n; i++) {
        struct chan_waiter *w = &op->w[i];
        if (w->linked)
            list_remove(list_of(w), w);
    }
}

/* Complete the operation w belongs to through case w: record the result,
 * unlink all of its cases (so no other channel fires it too), wake it. */
static void op_complete(struct chan_waiter *w, int result)
{
    struct chan_op *op = w->op;

    op->done = true;
    op->fired = w->index;
    op->result = result;
    op_unlink(op);
    weft__co_wake(op->co);
}

/* ---- the ring buffer ---------------------------------------------------- */

static unsigned char *slot(weft_chan *ch, size_t i)
{
    return ch->buf + ((ch->head + i) % ch->slots) * ch->item_size;
}

/* Double an unbounded channel's ring, keeping the items in order. */
static int ring_grow(weft_chan *ch)
{
    size_t slots = ch->slots ? ch->slots * 2 : CHAN_UNBOUNDED_FIRST;
    unsigned char *buf;
    size_t first;

    if (slots < ch->slots || slots > SIZE_MAX / ch->item_size)
        return -ENOMEM;
    buf = malloc(slots * ch->item_size);
    if (buf == NULL)
        return -ENOMEM;
    if (ch->count > 0) {
        /* Items run from head to the end of the array, then wrap. */
        first = ch->slots - ch->head;
        if (first > ch->count)
            first = ch->count;
        memcpy(buf, slot(ch, 0), first * ch->item_size);
        memcpy(buf + first * ch->item_size, ch->buf,
               (ch->count - first) * ch->item_size);
    }
    free(ch->buf);
    ch->buf = buf;
    ch->slots = slots;
    ch->head = 0;
    return 0;
}

/* Append an item; the caller has checked there is room under capacity. */
static int ring_push(weft_chan *ch, const void *item)
{
    int rc;

    if (ch->count == ch->slots) {
        rc = ring_grow(ch);
        if (rc < 0)
            return rc;
    }
    memcpy(slot(ch, ch->count), item, ch->item_size);
    ch->count++;
    return 0;
}

static void ring_pop(weft_chan *ch, void *item)
{
    memcpy(item, slot(ch, 0), ch->item_size);
    ch->head = (ch->head + 1) % ch->slots;
    ch->count--;
    /* An unbounded channel gives a burst's memory back once drained. */
    if (ch->count == 0 && ch->capacity == WEFT_CHAN_UNBOUNDED &&
        ch->slots > CHAN_UNBOUNDED_FIRST) {
        free(ch->buf);
        ch->buf = NULL;
        ch->slots = 0;
        ch->head = 0;
    }
}

/* ---- the operations that do not wait ------------------------------------ */

/* Send now if possible: 0 with *result 0 or WEFT_ECLOSED, -EAGAIN if it
 * would wait, -ENOMEM (an unbounded channel could not grow). */
static int try_send(weft_chan *ch, const void *item, int *result)
{
    struct chan_waiter *w;
    int rc;

    if (ch->closed) {
        *result = WEFT_ECLOSED;
        return 0;
    }
    w = ch->receivers.head;
    if (w != NULL) {
        /* A receiver waits, so the buffer is empty: hand over. */
        memcpy(w->item, item, ch->item_size);
        op_complete(w, 0);
        *result = 0;
        return 0;
    }
    if (ch->capacity == WEFT_CHAN_UNBOUNDED || ch->count < ch->capacity) {
        rc = ring_push(ch, item);
        if (rc < 0)
            return rc;
        *result = 0;
        return 0;
    }
    return -EAGAIN;
}

/* Receive now if possible: 0 with *result 0 (item filled) or WEFT_ECLOSED,
 * or -EAGAIN if it would wait. */
static int try_recv(weft_chan *ch, void *item, int *result)
{
    struct chan_waiter *w = ch->senders.head;

    if (ch->count > 0) {
        ring_pop(ch, item);
        if (w != NULL) {
            /* The buffer was full: the longest waiting sender's item
             * takes the freed slot (there is room, so no allocation). */
            (void)ring_push(ch, w->item);
            op_complete(w, 0);
        }
        *result = 0;
        return 0;
    }
    if (w != NULL) {
        /* Unbuffered: take the item straight from the sender. */
        memcpy(item, w->item, ch->item_size);
        op_complete(w, 0);
        *result = 0;
        return 0;
    }
    if (ch->closed) {
        *result = WEFT_ECLOSED;
        return 0;
    }
    return -EAGAIN;
}

static int try_case(weft_chan_case *c)
{
    if (c->op == WEFT_CHAN_SEND)
        return try_send(c->ch, c->item, &c->result);
    return try_recv(c->ch, c->item, &c->result);
}

/* ---- select, and send and receive as a select of one case --------------- */

/* Wait on every case of cases[0..n) (already found not ready) until one
 * completes, the deadline passes or the caller is cancelled. */
static int select_wait(weft_chan_case *cases, size_t n, weft_deadline dl,
                       weft_co *me)
{
    struct chan_waiter stack_w[CHAN_STACK_CASES];
    struct chan_waiter *ws = stack_w;
    struct chan_op op;
    int rc = 0;

    if (n > CHAN_STACK_CASES) {
        ws = calloc(n, sizeof *ws);
        if (ws == NULL)
            return -ENOMEM;
    }
    op.co = me;
    op.w = ws;
    op.n = n;
    op.done = false;
    op.fired = 0;
    op.result = 0;
    for (size_t i = 0; i < n; i++) {
        struct chan_waiter *w = &ws[i];

        w->prev = NULL;
        w->next = NULL;
        w->ch = cases[i].ch;
        w->op = &op;
        w->item = cases[i].item;
        w->index = i;
        w->kind = cases[i].op;
        w->linked = false;
        if (w->ch != NULL)
            list_push(list_of(w), w);
    }

    for (;;) {
        rc = weft__co_park(dl);
        /* Completed, even if the deadline or a cancel came at the same
         * time: the item has moved, so this is success. */
        if (op.done)
            break;
        if (rc < 0) {
            op_unlink(&op);
            break;
        }
        /* Woken by somebody else (not a partner): wait on. */
    }
    if (ws != stack_w)
        free(ws);
    if (!op.done)
        return rc;
    cases[op.fired].result = op.result;
    return (int)op.fired;
}

static int select_impl(weft_chan_case *cases, size_t n, int timeout_ms)
{
    weft_co *me;
    int rc;

    if ((cases == NULL && n > 0) || n > INT_MAX)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (cases[i].op != WEFT_CHAN_SEND && cases[i].op != WEFT_CHAN_RECV)
            return -EINVAL;
        if (cases[i].ch != NULL && cases[i].item == NULL)
            return -EINVAL;
    }
    /* The first ready case in array order wins. */
    for (size_t i = 0; i < n; i++) {
        if (cases[i].ch == NULL)
            continue;
        rc = try_case(&cases[i]);
        if (rc == 0)
            return (int)i;
        if (rc != -EAGAIN)
            return rc;
    }
    if (timeout_ms == 0)
        return -EAGAIN;
    me = weft__co_current();
    if (me == NULL)
        return -EPERM;
    if (weft__co_is_cancelled(me))
        return -ECANCELED;
    /* The scan took no time, so the deadline counts from now. */
    return select_wait(cases, n, weft_deadline_in(timeout_ms), me);
}

/* ---- the public API ------------------------------------------------------ */

int weft_chan_create(weft_chan **out, size_t item_size, size_t capacity)
{
    weft_chan *ch;

    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    if (item_size == 0)
        return -EINVAL;
    ch = calloc(1, sizeof *ch);
    if (ch == NULL)
        return -ENOMEM;
    ch->item_size = item_size;
    ch->capacity = capacity;
    if (capacity > 0 && capacity != WEFT_CHAN_UNBOUNDED) {
        if (capacity > SIZE_MAX / item_size) {
            free(ch);
            return -ENOMEM;
        }
        ch->buf = malloc(capacity * item_size);
        if (ch->buf == NULL) {
            free(ch);
            return -ENOMEM;
        }
        ch->slots = capacity;
    }
    *out = ch;
    return 0;
}

int weft_chan_send(weft_chan *ch, const void *item, int timeout_ms)
{
    /* The select machinery only reads a send case's item. */
    weft_chan_case c = {ch, WEFT_CHAN_SEND, (void *)item, 0};
    int rc;

    if (ch == NULL || item == NULL)
        return -EINVAL;
    rc = select_impl(&c, 1, timeout_ms);
    return rc < 0 ? rc : c.result;
}

int weft_chan_recv(weft_chan *ch, void *item, int timeout_ms)
{
    weft_chan_case c = {ch, WEFT_CHAN_RECV, item, 0};
    int rc;

    if (ch == NULL || item == NULL)
        return -EINVAL;
    rc = select_impl(&c, 1, timeout_ms);
    return rc < 0 ? rc : c.result;
}

int weft_chan_close(weft_chan *ch)
{
    if (ch == NULL)
        return -EINVAL;
    ch->closed = true;
    /* Receivers wait only on an empty buffer, so they get nothing more;
     * senders' items are not delivered. Both wake in FIFO order. */
    while (ch->receivers.head != NULL)
        op_complete(ch->receivers.head, WEFT_ECLOSED);
    while (ch->senders.head != NULL)
        op_complete(ch->senders.head, WEFT_ECLOSED);
    return 0;
}

size_t weft_chan_len(const weft_chan *ch)
{
    return ch != NULL ? ch->count : 0;
}

int weft_chan_destroy(weft_chan *ch)
{
    if (ch == NULL)
        return 0;
    if (ch->senders.head != NULL || ch->receivers.head != NULL)
        return -EBUSY;
    free(ch->buf);
    free(ch);
    return 0;
}

int weft_chan_select(weft_chan_case *cases, size_t n, int timeout_ms)
{
    return select_impl(cases, n, timeout_ms);
}
