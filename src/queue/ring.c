/* ring.c - the shared-memory queue: a byte ring of variable-length
 * messages that processes use at once, and survive each other's deaths.
 *
 * Layout (one arena block, nothing but offsets inside):
 *   header   sizes, the closed flag, wait counters
 *   producer line: the producers' robust lock and their cached copy of head
 *   tail     committed write position (one 64-bit word)
 *   consumer line: the consumers' robust lock and their cached tail
 *   head     consumed read position (one 64-bit word)
 *   data     the ring, a power of two bytes
 *
 * Positions pack a byte offset (upper 40 bits, modulo 2^40) and a message
 * count (lower 24 bits, modulo 2^24) into one word, so that one store
 * moves both: the queue's size in messages is (tail - head) in the low
 * bits, and no counter can disagree with the ring after a crash.
 *
 * A message is a record: {u32 len, u32 flags} then the payload, padded to
 * 8 bytes, always contiguous (zero-copy readers and writers see one span).
 * A record that would cross the end of the ring is preceded by a PAD record
 * filling the rest, and starts again at offset 0. Records are at most half
 * the ring, which guarantees that a drained ring always has room for any
 * record (see room()).
 *
 * The two-lock discipline (Michael & Scott): producers serialise on
 * plock, consumers on clock; a producer and a consumer never wait for each
 * other except through "full" and "empty". Each side writes the ring only
 * where the other cannot look - beyond tail, or before head - and publishes
 * with one release store. A process killed at any instant therefore leaves
 * at worst a lock marked dead (weft locks: robust mutexes in shared memory,
 * futex locks with a thread-exit hook on the heap) and bytes nobody can see:
 * the next holder takes over with nothing to repair.
 *
 * Waiting: a side that must wait (empty for consumers, full for producers)
 * spins briefly, then sleeps on a futex sequence word while holding its own
 * side's lock (other processes of that side queue on the lock, each with
 * its own deadline). The other side bumps the word after it publishes if
 * it sees a sleeper: the waiter counts its sleep before it re-reads the
 * position, and the publisher stores the position before it reads the
 * count (both sequentially consistent), so no wake-up is lost.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "queue/queue_int.h"
#include "sync/lock_int.h"
#include "sync/sync_int.h"

#include <weft/sync.h>

#define POS_SHIFT 24
#define SEQ_MASK  ((uint64_t)0xffffff)
#define POS_MASK  (((uint64_t)1 << 40) - 1)
/* Messages a shared queue may hold at once: half the count's range, so
 * differences of counts are never ambiguous. */
#define MAX_ITEMS ((size_t)1 << 23)
#define REC_HDR   8u
#define REC_PAD   1u
#define SPINS     500

struct rec {
    uint32_t len;
    uint32_t flags;
};

struct ring {
    struct weft__queue_head head;
    uint64_t size;      /* ring bytes, a power of two */
    uint64_t max_items; /* 0: none */
    uint64_t max_msg;
    uint64_t data_off; /* from the object start (shared rings) */
    uint8_t shared;    /* in shared memory: process-shared futexes */
    uint8_t growable;  /* private, no byte bound: grows when full */
    char *ext;         /* private rings: the data, on the heap */
    _Atomic uint32_t closed;
    /* Each wait's counter and futex word on a line of its own: a side that
     * goes to sleep writes them, and the other side reads the counter on
     * every message; sharing a line with anything else hot would make
     * every message a cache miss. */
    _Atomic uint32_t empty_waiters __attribute__((aligned(64)));
    _Atomic uint32_t not_empty; /* futex: bumped after a publish */
    _Atomic uint32_t full_waiters __attribute__((aligned(64)));
    _Atomic uint32_t not_full; /* futex: bumped after a consume */
    _Atomic uint32_t join_waiters __attribute__((aligned(64)));
    _Atomic uint32_t done; /* tasks done, modulo 2^24; futex for join */

    /* Producers. */
    struct weft_lock plock __attribute__((aligned(64)));
    uint64_t head_cache;  /* a recent head: never ahead of the truth */
    uint64_t pending_len; /* room(): the record waited for */
    uint64_t reserved_to; /* reserve(): tail after the commit */
    uint32_t reserving;   /* a reservation is open */
    _Atomic uint64_t tail __attribute__((aligned(64)));

    /* Consumers. */
    struct weft_lock clock __attribute__((aligned(64)));
    uint64_t tail_cache; /* a recent tail: never ahead of the truth */
    uint64_t peeked_to;  /* peek(): head after the release */
    uint32_t peeking;
    _Atomic uint64_t head_pos __attribute__((aligned(64)));
};

/* ---- Positions ----------------------------------------------------------- */

static inline uint64_t pos_of(uint64_t w)
{
    return w >> POS_SHIFT;
}

static inline uint64_t seq_of(uint64_t w)
{
    return w & SEQ_MASK;
}

static inline uint64_t advance(uint64_t w, uint64_t bytes, uint64_t msgs)
{
    return (((pos_of(w) + bytes) & POS_MASK) << POS_SHIFT) |
           ((seq_of(w) + msgs) & SEQ_MASK);
}

static inline uint64_t used_bytes(uint64_t tail, uint64_t head)
{
    return (pos_of(tail) - pos_of(head)) & POS_MASK;
}

static inline uint64_t count_between(uint64_t tail, uint64_t head)
{
    return (seq_of(tail) - seq_of(head)) & SEQ_MASK;
}

static inline size_t rec_size(size_t len)
{
    return REC_HDR + ((len + 7) & ~(size_t)7);
}

static inline char *data(struct ring *r)
{
    return r->ext ? r->ext : (char *)r + r->data_off;
}

static inline struct rec *rec_at(struct ring *r, uint64_t w)
{
    return (struct rec *)(void *)(data(r) + (pos_of(w) & (r->size - 1)));
}

/* ---- Locks ----------------------------------------------------------------
 */

/* Take a side's lock. A dead previous holder needs no repair (it could
 * only have written bytes nobody sees), but its open reservation or peek
 * is void. */
static int side_lock(struct ring *r, struct weft_lock *m, weft_deadline dl,
                     bool nowait)
{
    int rc = weft__lock_acquire_until(m, dl, nowait);

    if (rc == WEFT_OWNERDEAD) {
        if (m == &r->plock)
            r->reserving = 0;
        else
            r->peeking = 0;
        rc = 0;
    }
    return rc;
}

/* Sleep on *word while it still reads seq and cond() is false. Returns 0
 * to look again, -ETIMEDOUT, -EAGAIN for nowait. waiters is the count the
 * other side reads before it bumps *word. */
static int wait_for(_Atomic uint32_t *word, _Atomic uint32_t *waiters,
                    bool (*ready)(struct ring *), struct ring *r,
                    weft_deadline dl, bool nowait)
{
    uint32_t seq;
    int i, rc;

    if (nowait)
        return -EAGAIN;
    /* The other side usually publishes within microseconds, while a sleep
     * and a cross-core wake-up cost 15-30 us here. */
    for (i = 0; i < SPINS; i++) {
        if (ready(r))
            return 0;
        weft__cpu_relax();
    }
    atomic_fetch_add(waiters, 1);
    seq = atomic_load(word);
    if (ready(r)) {
        atomic_fetch_sub(waiters, 1);
        return 0;
    }
    rc = weft__futex_wait(word, seq, r->shared, dl);
    atomic_fetch_sub(waiters, 1);
    return rc == -ETIMEDOUT ? rc : 0;
}

static void wake(struct ring *r, _Atomic uint32_t *word,
                 _Atomic uint32_t *waiters)
{
    if (atomic_load(waiters) > 0) {
        atomic_fetch_add(word, 1);
        weft__futex_wake(word, INT32_MAX, r->shared);
    }
}

/* ---- Create ----------------------------------------------------------------
 */

/* Where a private ring starts; it doubles whenever a put finds it full. */
#define GROW_FROM ((size_t)64 << 10)

int weft__rq_create(weft_queue **out, weft_arena *where,
                    const weft_queue_opts *o)
{
    struct ring *r;
    size_t size = 64, max_msg, hdr;
    bool shared, growable = !where && o->max_bytes == 0;
    int rc;

    if (o->max_bytes > ((size_t)1 << 38) || o->max_items > MAX_ITEMS)
        return -EINVAL;
    if (growable)
        size = GROW_FROM;
    while (size < o->max_bytes)
        size <<= 1;
    max_msg = growable ? INT_MAX : size / 2 - REC_HDR;
    if (o->max_msg > max_msg)
        return -EINVAL;
    if (o->max_msg)
        max_msg = o->max_msg;
    hdr = (sizeof *r + 63) & ~(size_t)63;
    /* A shared ring carries its data; a private one keeps it on the heap,
     * where it can be replaced by a larger one. */
    rc = weft__place(where, hdr + (where ? size : 0), (void **)&r, &shared);
    if (rc < 0)
        return rc;
    if (!where) {
        r->ext = malloc(size);
        if (!r->ext) {
            weft__unplace(r, shared);
            return -ENOMEM;
        }
    }
    r->head.magic = WEFT__QUEUE_MAGIC;
    r->head.shared = shared;
    r->head.ring = 1;
    r->head.kind = WEFT_QUEUE_FIFO;
    r->head.joinable = o->joinable;
    r->shared = shared;
    r->growable = growable;
    r->size = size;
    r->max_items = o->max_items;
    r->max_msg = max_msg;
    r->data_off = hdr;
    if ((rc = weft__lock_init(&r->plock, shared)) < 0 ||
        (rc = weft__lock_init(&r->clock, shared)) < 0) {
        free(r->ext);
        weft__unplace(r, shared);
        return rc;
    }
    *out = (weft_queue *)r;
    return 0;
}

/* ---- Producers -------------------------------------------------------------
 */

/* Bytes a record of len needs at tail t, counting the PAD before it when
 * it would cross the end of the ring. */
static uint64_t need_at(struct ring *r, uint64_t t, size_t len)
{
    uint64_t off = pos_of(t) & (r->size - 1), rs = rec_size(len);

    return off + rs <= r->size ? rs : (r->size - off) + rs;
}

/* Is there room now for the record room() waits for? Reads the true head.
 * plock held. */
static bool has_room(struct ring *r)
{
    uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint64_t h = atomic_load(&r->head_pos);

    r->head_cache = h;
    if (r->max_items && count_between(t, h) >= r->max_items)
        return false;
    return r->size - used_bytes(t, h) >= need_at(r, t, r->pending_len) ||
           atomic_load(&r->closed);
}

/* A private ring without a byte bound, full: move its messages into one at
 * least twice as large, in which a record of len fits. plock held; clock
 * is taken too (order: plock, clock), so no consumer is inside while the
 * data moves. Returns 0 without growing if a consumer made room first. The
 * bytes from head to tail are copied in ring order, so the records (PADs
 * included: they still say how much to skip) keep their meaning at their new
 * offsets. */
static int grow(struct ring *r, size_t len)
{
    uint64_t t, h, used, off, first;
    size_t size = r->size;
    char *nd;
    int rc;

    /* Never wait for clock: a consumer may hold it asleep on an empty
     * ring, waiting for this very producer. While it is busy, look again:
     * a consumer either lets go soon or has emptied the ring (room). */
    for (;;) {
        rc = weft__lock_acquire_until(&r->clock, WEFT_DEADLINE_NEVER, true);
        if (rc != -EAGAIN)
            break;
        if (has_room(r))
            return 0;
        sched_yield();
    }
    if (rc < 0)
        return rc;
    if (rc == WEFT_OWNERDEAD)
        r->peeking = 0;
    t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    h = atomic_load_explicit(&r->head_pos, memory_order_relaxed);
    used = used_bytes(t, h);
    do
        size *= 2;
    while (size - used < 2 * rec_size(len) || size / 2 < rec_size(len));
    nd = malloc(size);
    if (!nd) {
        weft_lock_release(&r->clock);
        return -ENOMEM;
    }
    off = pos_of(h) & (r->size - 1);
    first = used < r->size - off ? used : r->size - off;
    memcpy(nd, r->ext + off, first);
    memcpy(nd + first, r->ext, used - first);
    free(r->ext);
    r->ext = nd;
    r->size = size;
    h = (seq_of(h) & SEQ_MASK); /* offset 0, same count */
    t = ((used & POS_MASK) << POS_SHIFT) | seq_of(t);
    atomic_store(&r->head_pos, h);
    atomic_store(&r->tail, t);
    r->head_cache = h;
    r->tail_cache = t;
    weft_lock_release(&r->clock);
    return 0;
}

/* With plock held: wait until a record of len fits. 0, or an error. */
static int room(struct ring *r, size_t len, weft_deadline dl, bool nowait)
{
    uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    int rc;

    for (;;) {
        if (atomic_load(&r->closed))
            return WEFT_ECLOSED;
        if (r->growable) {
            /* Never waits for bytes: makes them (an item bound, if any,
             * is waited for below). has_room() refreshes the head. */
            r->pending_len = len;
            if (has_room(r) && !atomic_load(&r->closed))
                return 0;
            t = atomic_load_explicit(&r->tail, memory_order_relaxed);
            if (!r->max_items ||
                count_between(t, r->head_cache) < r->max_items) {
                rc = grow(r, len);
                if (rc < 0)
                    return rc;
                continue;
            }
        }
        /* The cached head is never ahead of the real one: if it leaves
         * room, there is room. */
        if ((!r->max_items || count_between(t, r->head_cache) < r->max_items) &&
            r->size - used_bytes(t, r->head_cache) >= need_at(r, t, len))
            return 0;
        r->pending_len = len;
        if (has_room(r) && !atomic_load(&r->closed))
            return 0;
        rc = wait_for(&r->not_full, &r->full_waiters, has_room, r, dl, nowait);
        if (rc < 0)
            return rc;
    }
}

/* With plock held and room made: where the record goes (writing the PAD
 * first if it must wrap); returns the tail after the record. */
static uint64_t place_record(struct ring *r, size_t len, struct rec **at)
{
    uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint64_t off = pos_of(t) & (r->size - 1), skip = 0;
    struct rec *pad;

    if (off + rec_size(len) > r->size) {
        skip = r->size - off;
        pad = rec_at(r, t);
        pad->len = (uint32_t)(skip - REC_HDR);
        pad->flags = REC_PAD;
    }
    *at = (struct rec *)(void *)(data(r) + ((off + skip) & (r->size - 1)));
    (*at)->len = (uint32_t)len;
    (*at)->flags = 0;
    return advance(t, skip + rec_size(len), 1);
}

/* Publish: one store makes the record (and any PAD) visible. */
static void publish(struct ring *r, uint64_t new_tail)
{
    atomic_store(&r->tail, new_tail);
    wake(r, &r->not_empty, &r->empty_waiters);
}

int weft__rq_put(weft_queue *q, const void *msg, size_t len, int timeout_ms)
{
    struct ring *r = (struct ring *)q;
    weft_deadline dl = weft_deadline_in(timeout_ms);
    struct rec *at;
    uint64_t nt;
    int rc;

    if (len > r->max_msg)
        return -EMSGSIZE;
    rc = side_lock(r, &r->plock, dl, timeout_ms == 0);
    if (rc < 0)
        return rc;
    rc = room(r, len, dl, timeout_ms == 0);
    if (rc == 0) {
        nt = place_record(r, len, &at);
        memcpy(at + 1, msg, len);
        publish(r, nt);
    }
    weft_lock_release(&r->plock);
    return rc;
}

int weft__rq_reserve(weft_queue *q, size_t len, void **where, int timeout_ms)
{
    struct ring *r = (struct ring *)q;
    weft_deadline dl = weft_deadline_in(timeout_ms);
    struct rec *at;
    int rc;

    if (len > r->max_msg)
        return -EMSGSIZE;
    rc = side_lock(r, &r->plock, dl, timeout_ms == 0);
    if (rc < 0)
        return rc;
    rc = room(r, len, dl, timeout_ms == 0);
    if (rc < 0) {
        weft_lock_release(&r->plock);
        return rc;
    }
    r->reserved_to = place_record(r, len, &at);
    r->reserving = 1;
    *where = at + 1;
    return 0; /* plock stays held until commit or cancel */
}

int weft__rq_commit(weft_queue *q, bool keep)
{
    struct ring *r = (struct ring *)q;

    if (!weft__lock_held_by_me(&r->plock) || !r->reserving)
        return -EPERM;
    r->reserving = 0;
    if (keep)
        publish(r, r->reserved_to);
    weft_lock_release(&r->plock);
    return 0;
}

/* ---- Consumers -------------------------------------------------------------
 */

static bool has_message(struct ring *r)
{
    uint64_t t = atomic_load(&r->tail);

    r->tail_cache = t;
    return count_between(t, atomic_load_explicit(&r->head_pos,
                                                 memory_order_relaxed)) > 0 ||
           atomic_load(&r->closed);
}

/* With clock held: wait for a message and return its record, skipping
 * PADs (consumed on the way). *hp gets the head before the record. */
static int next_record(struct ring *r, weft_deadline dl, bool nowait,
                       struct rec **out, uint64_t *hp)
{
    uint64_t h, t;
    struct rec *rec;
    int rc;

    for (;;) {
        h = atomic_load_explicit(&r->head_pos, memory_order_relaxed);
        t = r->tail_cache; /* never ahead of the real tail */
        if (used_bytes(t, h) == 0) {
            t = atomic_load(&r->tail);
            r->tail_cache = t;
        }
        if (used_bytes(t, h) == 0) {
            if (atomic_load(&r->closed)) {
                /* Closed: but a producer may have published just before
                 * the close; look once more. */
                t = atomic_load(&r->tail);
                r->tail_cache = t;
                if (used_bytes(t, h) == 0)
                    return WEFT_ECLOSED;
                continue;
            }
            rc = wait_for(&r->not_empty, &r->empty_waiters, has_message, r, dl,
                          nowait);
            if (rc < 0)
                return rc;
            continue;
        }
        rec = rec_at(r, h);
        if (rec->flags & REC_PAD) {
            atomic_store(&r->head_pos, advance(h, REC_HDR + rec->len, 0));
            continue;
        }
        *out = rec;
        *hp = h;
        return 0;
    }
}

/* Publish a new head: the record before it is gone. */
static void set_head(struct ring *r, uint64_t h)
{
    atomic_store(&r->head_pos, h);
    wake(r, &r->not_full, &r->full_waiters);
}

static void consume(struct ring *r, uint64_t h, struct rec *rec)
{
    set_head(r, advance(h, rec_size(rec->len), 1));
}

int weft__rq_get(weft_queue *q, void *buf, size_t cap, bool peek_len,
                 int timeout_ms)
{
    struct ring *r = (struct ring *)q;
    weft_deadline dl = weft_deadline_in(timeout_ms);
    struct rec *rec;
    uint64_t h;
    int rc;

    rc = side_lock(r, &r->clock, dl, timeout_ms == 0);
    if (rc < 0)
        return rc;
    rc = next_record(r, dl, timeout_ms == 0, &rec, &h);
    if (rc == 0) {
        rc = (int)rec->len;
        if (!peek_len) {
            if (rec->len > cap) {
                rc = -ENOBUFS;
            } else {
                memcpy(buf, rec + 1, rec->len);
                consume(r, h, rec);
            }
        }
    }
    weft_lock_release(&r->clock);
    return rc;
}

int weft__rq_peek(weft_queue *q, const void **msg, int timeout_ms)
{
    struct ring *r = (struct ring *)q;
    weft_deadline dl = weft_deadline_in(timeout_ms);
    struct rec *rec;
    uint64_t h;
    int rc;

    rc = side_lock(r, &r->clock, dl, timeout_ms == 0);
    if (rc < 0)
        return rc;
    rc = next_record(r, dl, timeout_ms == 0, &rec, &h);
    if (rc < 0) {
        weft_lock_release(&r->clock);
        return rc;
    }
    r->peeked_to = advance(h, rec_size(rec->len), 1);
    r->peeking = 1;
    *msg = rec + 1;
    return (int)rec->len; /* clock stays held until release or unpeek */
}

int weft__rq_release(weft_queue *q, bool consume_it)
{
    struct ring *r = (struct ring *)q;

    if (!weft__lock_held_by_me(&r->clock) || !r->peeking)
        return -EPERM;
    r->peeking = 0;
    if (consume_it)
        set_head(r, r->peeked_to);
    weft_lock_release(&r->clock);
    return 0;
}

/* ---- Close, sizes, tasks
 * ------------------------------------------------------ */

int weft__rq_close(weft_queue *q)
{
    struct ring *r = (struct ring *)q;

    atomic_store(&r->closed, 1);
    /* Everybody asleep must look again; bump unconditionally. */
    atomic_fetch_add(&r->not_empty, 1);
    atomic_fetch_add(&r->not_full, 1);
    weft__futex_wake(&r->not_empty, INT32_MAX, r->shared);
    weft__futex_wake(&r->not_full, INT32_MAX, r->shared);
    return 0;
}

int weft__rq_closed(weft_queue *q)
{
    return (int)atomic_load(&((struct ring *)q)->closed);
}

int weft__rq_qsize(weft_queue *q)
{
    struct ring *r = (struct ring *)q;

    return (int)count_between(atomic_load(&r->tail), atomic_load(&r->head_pos));
}

int weft__rq_full(weft_queue *q)
{
    struct ring *r = (struct ring *)q;
    uint64_t t = atomic_load(&r->tail), h = atomic_load(&r->head_pos);

    if (r->max_items && count_between(t, h) >= r->max_items)
        return 1;
    /* Full for the smallest message. */
    return r->size - used_bytes(t, h) < need_at(r, t, 1);
}

int weft__rq_task_done(weft_queue *q)
{
    struct ring *r = (struct ring *)q;
    uint32_t d = atomic_load(&r->done);

    for (;;) {
        uint64_t put = seq_of(atomic_load(&r->tail));
        if (((put - d) & SEQ_MASK) == 0)
            return -EOVERFLOW;
        if (atomic_compare_exchange_weak(&r->done, &d,
                                         (uint32_t)((d + 1) & SEQ_MASK)))
            break;
    }
    if (atomic_load(&r->join_waiters) > 0)
        weft__futex_wake(&r->done, INT32_MAX, r->shared);
    return 0;
}

int weft__rq_join(weft_queue *q, int timeout_ms)
{
    struct ring *r = (struct ring *)q;
    weft_deadline dl = weft_deadline_in(timeout_ms);
    uint32_t d;
    int rc;

    for (;;) {
        atomic_fetch_add(&r->join_waiters, 1);
        d = atomic_load(&r->done);
        if (((seq_of(atomic_load(&r->tail)) - d) & SEQ_MASK) == 0) {
            atomic_fetch_sub(&r->join_waiters, 1);
            return 0;
        }
        if (timeout_ms == 0) {
            atomic_fetch_sub(&r->join_waiters, 1);
            return -EAGAIN;
        }
        rc = weft__futex_wait(&r->done, d, r->shared, dl);
        atomic_fetch_sub(&r->join_waiters, 1);
        if (rc == -ETIMEDOUT)
            return rc;
    }
}

int weft__rq_destroy(weft_queue *q)
{
    struct ring *r = (struct ring *)q;

    if (atomic_load(&r->empty_waiters) || atomic_load(&r->full_waiters) ||
        atomic_load(&r->join_waiters) || weft_lock_locked(&r->plock) ||
        weft_lock_locked(&r->clock))
        return -EBUSY;
    weft__lock_fini(&r->plock);
    weft__lock_fini(&r->clock);
    r->head.magic = 0;
    free(r->ext);
    weft__unplace(r, r->shared);
    return 0;
}
