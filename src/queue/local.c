/* local.c - the thread queues (placement NULL) that are not a ring:
 * Python's LifoQueue and PriorityQueue, and a FIFO queue.Queue with a byte
 * bound (max_bytes counts message bytes exactly here; an unbounded FIFO
 * between threads is a growable ring, see ring.c), joinable or not.
 * queue.c checks the common arguments and calls in here.
 *
 * Storage. Every message is copied into its own malloc'd node (copied in
 * before the lock is taken, copied out after it is released, so the lock
 * is held only for pointer work). FIFO and LIFO keep the nodes on a singly
 * linked list, taken from the front; FIFO adds at the back, LIFO at the
 * front. PRIORITY keeps a binary min-heap of node pointers keyed by
 * (priority, sequence number): the sequence number grows with every put,
 * so equal priorities leave in the order they came.
 *
 * Waiting. One mutex guards the fields of struct lq marked "under lock"
 * (a leaf: no other lock is taken while it is held); three condition
 * variables on CLOCK_MONOTONIC wait against deadlines:
 * not_empty (getters), not_full (putters), all_done (joiners). Every waiter
 * re-checks its condition after each wake, also after a timeout, so a wake
 * that raced the deadline is never wasted: the waiter that consumed it
 * uses it. Wakes are targeted where that is exact and broadcast where not:
 *   - a put wakes one getter; a getter that leaves the message where it is
 *     (-ENOBUFS, next_len) passes that wake on to the next getter;
 *   - a get wakes one putter when only max_items bounds the queue (it made
 *     room for exactly one message), and all of them under max_bytes (the
 *     room may fit some waiting messages and not others);
 *   - close wakes every getter and putter; task_done to zero wakes every
 *     joiner.
 * A putter that finds room but no memory for the heap (-ENOMEM) passes
 * its wake on too.
 *
 * Putters are not served in order: under max_bytes a large message may
 * wait while smaller ones that fit keep getting in (as a lock does not
 * queue its waiters either).
 *
 * Every waiter counts itself (put_waiting, get_waiting, join_waiting) from
 * before its first wait until it has the lock again after its last, so
 * destroy can refuse (-EBUSY) while any thread is inside a wait.
 *
 * A message is at most INT_MAX bytes, so get's int result can carry its
 * length.
 *
 * Fork: a forked child gets a copy of the queue, unrelated to the parent's.
 * It is usable there only if no other thread was inside a queue call at
 * the instant of fork (that thread's lock would stay held in the child), as
 * with any pthread mutex.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "queue/queue_int.h"
#include "sync/sync_int.h"

/* One message. */
struct lq_node {
    struct lq_node *next; /* toward the back (FIFO, LIFO); unused in heap */
    size_t len;           /* bytes in data, 1 .. INT_MAX */
    int prio;             /* PRIORITY: lower first */
    uint64_t seq;         /* PRIORITY: put order among equal priorities */
    unsigned char data[];
};

struct lq {
    struct weft__queue_head head; /* first: queue.c dispatches on it */
    /* Set by create, read-only afterwards. */
    size_t max_items; /* 0: no bound */
    size_t max_bytes; /* 0: no bound */
    size_t max_msg;   /* largest message accepted, <= INT_MAX */
    pthread_mutex_t lock;
    pthread_cond_t not_empty; /* a message arrived, or closed */
    pthread_cond_t not_full;  /* room was made, or closed */
    pthread_cond_t all_done;  /* unfinished reached 0 */
    /* Under lock. */
    struct lq_node *front; /* FIFO, LIFO: next to leave */
    struct lq_node *back;  /* FIFO: last to leave */
    struct lq_node **heap; /* PRIORITY: min-heap of count nodes */
    size_t heap_cap;       /* slots allocated in heap */
    size_t count;          /* messages held */
    size_t bytes;          /* message bytes held */
    uint64_t next_seq;     /* PRIORITY: the sequence of the next put */
    uint64_t unfinished;   /* joinable: puts not yet marked done */
    unsigned put_waiting;  /* threads inside a wait, per kind */
    unsigned get_waiting;
    unsigned join_waiting;
    bool closed;
};

/* Fewest heap slots kept; below this the heap never shrinks. */
#define HEAP_MIN 16
/* Looks at the count before a getter sleeps (see weft__lq_get). */
#define GET_SPINS 2000

static struct lq *LQ(weft_queue *q)
{
    return (struct lq *)(void *)q;
}

/* ---- Waiting ------------------------------------------------------------ */

/* Wait on cv until woken or until deadline dl. Lock held on entry and on
 * return. Returns true when the deadline has passed; the caller re-checks
 * its condition either way, since a wake may have raced the deadline. */
static bool wait_locked(struct lq *q, pthread_cond_t *cv, weft_deadline dl)
{
    struct timespec ts;

    if (dl == WEFT_DEADLINE_NEVER) {
        pthread_cond_wait(cv, &q->lock);
        return false;
    }
    ts.tv_sec = dl / 1000000000;
    ts.tv_nsec = dl % 1000000000;
    if (pthread_cond_timedwait(cv, &q->lock, &ts) == ETIMEDOUT)
        return true;
    return weft_deadline_expired(dl);
}

/* The error for a wait that ran out: the timeout convention. */
static int expired(int timeout_ms)
{
    return timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
}

/* ---- The priority heap -------------------------------------------------- */

static bool before(const struct lq_node *a, const struct lq_node *b)
{
    if (a->prio != b->prio)
        return a->prio < b->prio;
    return a->seq < b->seq;
}

/* Make room for one more node. 0 or -ENOMEM (heap unchanged). */
static int heap_reserve(struct lq *q)
{
    struct lq_node **h;
    size_t cap;

    if (q->count < q->heap_cap)
        return 0;
    cap = q->heap_cap ? q->heap_cap * 2 : HEAP_MIN;
    if (cap > SIZE_MAX / sizeof *h)
        return -ENOMEM;
    h = realloc(q->heap, cap * sizeof *h);
    if (!h)
        return -ENOMEM;
    q->heap = h;
    q->heap_cap = cap;
    return 0;
}

static void heap_push(struct lq *q, struct lq_node *n)
{
    size_t i = q->count, parent;

    while (i > 0) {
        parent = (i - 1) / 2;
        if (!before(n, q->heap[parent]))
            break;
        q->heap[i] = q->heap[parent];
        i = parent;
    }
    q->heap[i] = n;
}

/* Remove heap[0]; count still includes it on entry. */
static void heap_pop(struct lq *q)
{
    size_t n = q->count - 1, i = 0, child;
    struct lq_node *last = q->heap[n];
    struct lq_node **h;

    for (;;) {
        child = 2 * i + 1;
        if (child >= n)
            break;
        if (child + 1 < n && before(q->heap[child + 1], q->heap[child]))
            child++;
        if (!before(q->heap[child], last))
            break;
        q->heap[i] = q->heap[child];
        i = child;
    }
    q->heap[i] = last;
    /* Give back memory after a burst. A failed shrink keeps the old,
     * larger array, which is just as good. */
    if (q->heap_cap > HEAP_MIN && n < q->heap_cap / 4) {
        h = realloc(q->heap, q->heap_cap / 2 * sizeof *h);
        if (h) {
            q->heap = h;
            q->heap_cap /= 2;
        }
    }
}

/* ---- Create and destroy ------------------------------------------------ */

/* The three condition variables on CLOCK_MONOTONIC: all or none. */
static int init_conds(struct lq *q)
{
    pthread_condattr_t ca;
    int rc;

    rc = pthread_condattr_init(&ca);
    if (rc)
        return rc;
    rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(&q->not_empty, &ca);
    if (rc == 0) {
        rc = pthread_cond_init(&q->not_full, &ca);
        if (rc == 0) {
            rc = pthread_cond_init(&q->all_done, &ca);
            if (rc)
                pthread_cond_destroy(&q->not_full);
        }
        if (rc)
            pthread_cond_destroy(&q->not_empty);
    }
    pthread_condattr_destroy(&ca);
    return rc;
}

int weft__lq_create(weft_queue **out, const weft_queue_opts *o)
{
    struct lq *q;
    int rc;

    if (o->max_msg && o->max_bytes && o->max_msg > o->max_bytes)
        return -EINVAL;
    q = calloc(1, sizeof *q);
    if (!q)
        return -ENOMEM;
    q->head.magic = WEFT__QUEUE_MAGIC;
    q->head.shared = 0;
    q->head.kind = (uint8_t)o->kind;
    q->head.joinable = o->joinable;
    q->max_items = o->max_items;
    q->max_bytes = o->max_bytes;
    /* No max_msg: as large as max_bytes allows, and never beyond what
     * get's int result can report. */
    q->max_msg = o->max_msg ? o->max_msg : o->max_bytes;
    if (q->max_msg == 0 || q->max_msg > INT_MAX)
        q->max_msg = INT_MAX;
    rc = pthread_mutex_init(&q->lock, NULL);
    if (rc) {
        free(q);
        return -rc;
    }
    rc = init_conds(q);
    if (rc) {
        pthread_mutex_destroy(&q->lock);
        free(q);
        return -rc;
    }
    *out = (weft_queue *)(void *)q;
    return 0;
}

int weft__lq_destroy(weft_queue *wq)
{
    struct lq *q = LQ(wq);
    struct lq_node *n, *next;
    size_t i;

    pthread_mutex_lock(&q->lock);
    if (q->put_waiting || q->get_waiting || q->join_waiting) {
        pthread_mutex_unlock(&q->lock);
        return -EBUSY;
    }
    pthread_mutex_unlock(&q->lock);
    /* Nobody waits, so nobody else may legally be in here now: the
     * caller promises that by destroying. */
    for (n = q->front; n; n = next) {
        next = n->next;
        free(n);
    }
    for (i = 0; i < q->count && q->heap; i++)
        free(q->heap[i]);
    free(q->heap);
    pthread_cond_destroy(&q->all_done);
    pthread_cond_destroy(&q->not_full);
    pthread_cond_destroy(&q->not_empty);
    pthread_mutex_destroy(&q->lock);
    /* A stale handle used after this fails the magic check rather than
     * acting on freed memory - as long as the memory is not reused. */
    q->head.magic = 0;
    free(q);
    return 0;
}

/* ---- Put and get -------------------------------------------------------- */

/* True if a message of len bytes fits now. */
static bool fits_locked(const struct lq *q, size_t len)
{
    if (q->max_items && q->count >= q->max_items)
        return false;
    return !q->max_bytes || len <= q->max_bytes - q->bytes;
}

/* Add n, which fits; the heap has room. */
static void push_locked(struct lq *q, struct lq_node *n)
{
    switch (q->head.kind) {
    case WEFT_QUEUE_PRIORITY:
        n->seq = q->next_seq++;
        heap_push(q, n);
        break;
    case WEFT_QUEUE_LIFO:
        n->next = q->front;
        q->front = n;
        break;
    default:
        n->next = NULL;
        if (q->back)
            q->back->next = n;
        else
            q->front = n;
        q->back = n;
        break;
    }
    __atomic_store_n(&q->count, q->count + 1, __ATOMIC_RELEASE);
    q->bytes += n->len;
    if (q->head.joinable)
        q->unfinished++;
}

/* The next message to leave; count > 0. */
static struct lq_node *first_locked(const struct lq *q)
{
    return q->head.kind == WEFT_QUEUE_PRIORITY ? q->heap[0] : q->front;
}

/* Remove first_locked(q). */
static void pop_locked(struct lq *q)
{
    struct lq_node *n = first_locked(q);

    if (q->head.kind == WEFT_QUEUE_PRIORITY) {
        heap_pop(q);
    } else {
        q->front = n->next;
        if (!q->front)
            q->back = NULL;
    }
    __atomic_store_n(&q->count, q->count - 1, __ATOMIC_RELAXED);
    q->bytes -= n->len;
}

int weft__lq_put(weft_queue *wq, int prio, const void *msg, size_t len,
                 int timeout_ms)
{
    struct lq *q = LQ(wq);
    struct lq_node *n;
    weft_deadline dl;
    bool late = false, waited = false;
    int rc;

    /* Refused at once: it could never fit, so waiting would be forever.
     * (max_msg is never over max_bytes: see create.) */
    if (len > q->max_msg)
        return -EMSGSIZE;
    n = malloc(sizeof *n + len);
    if (!n)
        return -ENOMEM;
    memcpy(n->data, msg, len);
    n->len = len;
    n->prio = prio;
    n->next = NULL;
    n->seq = 0;
    dl = weft_deadline_in(timeout_ms);

    pthread_mutex_lock(&q->lock);
    for (;;) {
        if (q->closed) {
            rc = WEFT_ECLOSED;
            break;
        }
        if (fits_locked(q, len)) {
            rc = 0;
            if (q->head.kind == WEFT_QUEUE_PRIORITY)
                rc = heap_reserve(q);
            if (rc == 0) {
                push_locked(q, n);
                n = NULL;
            }
            break;
        }
        if (late || timeout_ms == 0) {
            rc = expired(timeout_ms);
            break;
        }
        if (!waited) {
            q->put_waiting++;
            waited = true;
        }
        late = wait_locked(q, &q->not_full, dl);
    }
    if (waited)
        q->put_waiting--;
    if (rc == 0 && q->get_waiting)
        pthread_cond_signal(&q->not_empty);
    /* There was room but no memory: a wake this putter took for that room
     * belongs to another. (Every other failure means there was no room,
     * or close, which woke everybody.) */
    if (rc == -ENOMEM && waited && q->put_waiting)
        pthread_cond_signal(&q->not_full);
    pthread_mutex_unlock(&q->lock);
    free(n);
    return rc;
}

int weft__lq_get(weft_queue *wq, void *buf, size_t cap, bool peek_len,
                 int timeout_ms)
{
    struct lq *q = LQ(wq);
    struct lq_node *n = NULL;
    weft_deadline dl = weft_deadline_in(timeout_ms);
    bool late = false, waited = false, spun = false;
    int rc;

    pthread_mutex_lock(&q->lock);
    for (;;) {
        if (q->count > 0) {
            n = first_locked(q);
            rc = (int)n->len;
            if (peek_len || n->len > cap) {
                if (!peek_len)
                    rc = -ENOBUFS;
                n = NULL;
                /* The message stays, and so does the wake it brought
                 * (if this getter was woken for it): pass it on. */
                if (q->get_waiting > (waited ? 1u : 0u))
                    pthread_cond_signal(&q->not_empty);
            } else {
                pop_locked(q);
                if (q->put_waiting) {
                    if (q->max_bytes)
                        pthread_cond_broadcast(&q->not_full);
                    else
                        pthread_cond_signal(&q->not_full);
                }
            }
            break;
        }
        if (q->closed) {
            rc = WEFT_ECLOSED;
            break;
        }
        if (late || timeout_ms == 0) {
            rc = expired(timeout_ms);
            break;
        }
        if (!spun) {
            /* A producer usually puts again within a microsecond, and a
             * sleep plus a wake-up costs tens of them: watch the count a
             * little, without the lock, before going to sleep. */
            int i;
            spun = true;
            pthread_mutex_unlock(&q->lock);
            for (i = 0; i < GET_SPINS &&
                        __atomic_load_n(&q->count, __ATOMIC_ACQUIRE) == 0;
                 i++)
                weft__cpu_relax();
            pthread_mutex_lock(&q->lock);
            continue;
        }
        if (!waited) {
            q->get_waiting++;
            waited = true;
        }
        late = wait_locked(q, &q->not_empty, dl);
    }
    if (waited)
        q->get_waiting--;
    pthread_mutex_unlock(&q->lock);
    if (n) {
        memcpy(buf, n->data, n->len);
        free(n);
    }
    return rc;
}

/* ---- Close, snapshots --------------------------------------------------- */

int weft__lq_close(weft_queue *wq)
{
    struct lq *q = LQ(wq);

    pthread_mutex_lock(&q->lock);
    if (!q->closed) {
        q->closed = true;
        pthread_cond_broadcast(&q->not_empty);
        pthread_cond_broadcast(&q->not_full);
    }
    pthread_mutex_unlock(&q->lock);
    return 0;
}

int weft__lq_closed(weft_queue *wq)
{
    struct lq *q = LQ(wq);
    int closed;

    pthread_mutex_lock(&q->lock);
    closed = q->closed;
    pthread_mutex_unlock(&q->lock);
    return closed;
}

int weft__lq_qsize(weft_queue *wq)
{
    struct lq *q = LQ(wq);
    size_t n;

    pthread_mutex_lock(&q->lock);
    n = q->count;
    pthread_mutex_unlock(&q->lock);
    return n > INT_MAX ? INT_MAX : (int)n;
}

/* Full: no room for even the smallest message. */
int weft__lq_full(weft_queue *wq)
{
    struct lq *q = LQ(wq);
    int full;

    pthread_mutex_lock(&q->lock);
    full = !fits_locked(q, 1);
    pthread_mutex_unlock(&q->lock);
    return full;
}

/* ---- Joinable ----------------------------------------------------------- */

int weft__lq_task_done(weft_queue *wq)
{
    struct lq *q = LQ(wq);
    int rc = 0;

    pthread_mutex_lock(&q->lock);
    if (q->unfinished == 0)
        rc = -EOVERFLOW;
    else if (--q->unfinished == 0 && q->join_waiting)
        pthread_cond_broadcast(&q->all_done);
    pthread_mutex_unlock(&q->lock);
    return rc;
}

int weft__lq_join(weft_queue *wq, int timeout_ms)
{
    struct lq *q = LQ(wq);
    weft_deadline dl = weft_deadline_in(timeout_ms);
    bool late = false, waited = false;
    int rc;

    pthread_mutex_lock(&q->lock);
    for (;;) {
        if (q->unfinished == 0) {
            rc = 0;
            break;
        }
        if (late || timeout_ms == 0) {
            rc = expired(timeout_ms);
            break;
        }
        if (!waited) {
            q->join_waiting++;
            waited = true;
        }
        late = wait_locked(q, &q->all_done, dl);
    }
    if (waited)
        q->join_waiting--;
    pthread_mutex_unlock(&q->lock);
    return rc;
}
