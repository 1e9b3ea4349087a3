/* test_thread_queue.c - the thread queues (placement NULL): FIFO order per
 * producer, no loss and no duplicate under 4 producers x 4 consumers, LIFO
 * and priority order (against a sorted reference and a model of random
 * puts and gets), bounds by count and by bytes with every timeout path,
 * -EMSGSIZE, -ENOBUFS keeping the message, next_len, close draining to
 * many consumers, join/task_done, destroy refused while waited on, and bad
 * input.
 *
 * Workers record what they saw and the test asserts it after joining them
 * (cmocka asserts only work on the test's own thread). A worker meant to
 * block is checked to be asleep in a futex wait before the test acts. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <weft/weft.h>

#include "unit/sync/sync_helpers.h"

static weft_queue *make(int kind, size_t max_items, size_t max_bytes,
                        size_t max_msg, bool joinable)
{
    weft_queue_opts o = {0};
    weft_queue *q = NULL;

    o.kind = kind;
    o.max_items = max_items;
    o.max_bytes = max_bytes;
    o.max_msg = max_msg;
    o.joinable = joinable;
    assert_int_equal(weft_queue_create(&q, NULL, &o), 0);
    assert_non_null(q);
    return q;
}

/* xorshift64*: a fast, seedable generator each thread owns. */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;

    while (n--) {
        h ^= *p++;
        h *= 1099511628211ull;
    }
    return h;
}

/* ---- One call on a background thread ------------------------------------ */

enum { OP_PUT, OP_GET, OP_NEXT_LEN, OP_JOIN };

struct call {
    weft_queue *q;
    int op;
    int timeout_ms;
    size_t len; /* OP_PUT: bytes put (all 'p'); OP_GET: cap */
    unsigned char buf[256];
};

static int call_worker(void *p, int i)
{
    struct call *c = &((struct call *)p)[i];

    switch (c->op) {
    case OP_PUT:
        memset(c->buf, 'p', c->len);
        return weft_queue_put(c->q, c->buf, c->len, c->timeout_ms);
    case OP_GET:
        return weft_queue_get(c->q, c->buf, c->len, c->timeout_ms);
    case OP_NEXT_LEN:
        return weft_queue_next_len(c->q, c->timeout_ms);
    default:
        return weft_queue_join(c->q, c->timeout_ms);
    }
}

/* Start calls c[0..n) on threads and see each asleep in a wait. */
static void start_blocked(struct workers *w, struct call *c, int n)
{
    int i;

    workers_start(w, false, n, call_worker, c);
    for (i = 0; i < n; i++)
        assert_true(worker_sleeping(w, i, 3000));
    /* One may have been caught asleep on the lock while another held it
     * on its way to its wait; a moment later all of them are waiting. */
    if (n > 1) {
        usleep(10000);
        for (i = 0; i < n; i++)
            assert_true(worker_sleeping(w, i, 3000));
    }
    for (i = 0; i < n; i++)
        assert_false(worker_done(w, i));
}

static void put_str(weft_queue *q, const char *s)
{
    assert_int_equal(weft_queue_put(q, s, strlen(s), 0), 0);
}

static void get_str(weft_queue *q, const char *want)
{
    char buf[64];
    int n = weft_queue_get(q, buf, sizeof buf, 0);

    assert_int_equal(n, (int)strlen(want));
    assert_memory_equal(buf, want, strlen(want));
}

/* ---- FIFO order per producer -------------------------------------------- */

#define FIFO_PRODUCERS 4

struct fifo_msg {
    int producer;
    int idx;
};

struct fifo_run {
    weft_queue *q;
    int per;
};

static int fifo_producer(void *p, int i)
{
    struct fifo_run *r = p;
    struct fifo_msg m = {i, 0};
    int rc;

    for (m.idx = 0; m.idx < r->per; m.idx++) {
        rc = weft_queue_put(r->q, &m, sizeof m, 5000);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static void test_fifo_order_per_producer(void **state)
{
    struct fifo_run r;
    struct workers w;
    struct fifo_msg m;
    int next[FIFO_PRODUCERS] = {0};
    int i, n, total;

    r.per = UNDER_TSAN ? 5000 : 20000;
    /* Bounded, so producers block and wake all the time. */
    r.q = make(WEFT_QUEUE_FIFO, 64, 0, 0, false);
    workers_start(&w, false, FIFO_PRODUCERS, fifo_producer, &r);
    total = FIFO_PRODUCERS * r.per;
    for (i = 0; i < total; i++) {
        n = weft_queue_get(r.q, &m, sizeof m, 5000);
        assert_int_equal(n, (int)sizeof m);
        assert_true(m.producer >= 0 && m.producer < FIFO_PRODUCERS);
        assert_int_equal(m.idx, next[m.producer]);
        next[m.producer]++;
    }
    assert_int_equal(workers_join_all(&w, 0, 5000), FIFO_PRODUCERS);
    assert_int_equal(weft_queue_get(r.q, &m, sizeof m, 0), -EAGAIN);
    assert_int_equal(weft_queue_empty(r.q), 1);
    assert_int_equal(weft_queue_destroy(r.q), 0);
}

/* ---- 4 producers x 4 consumers: no loss, no duplicate ------------------- */

#define MP_PRODUCERS 4
#define MP_CONSUMERS 4
#define MP_MAX       300 /* largest message */

struct mp_hdr {
    uint32_t id;
    uint32_t len;
    uint64_t sum; /* FNV-1a of the bytes after the header */
};

struct mp_run {
    weft_queue *q;
    int per;               /* messages per producer */
    _Atomic uint8_t *seen; /* per id: times received */
    _Atomic int bad;       /* corrupt or out-of-range messages */
    _Atomic int producing; /* producers not finished */
};

static int mp_producer(void *p, int i)
{
    struct mp_run *r = p;
    unsigned char buf[MP_MAX];
    struct mp_hdr h;
    uint64_t s = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
    size_t len, k;
    int j, rc;

    for (j = 0; j < r->per; j++) {
        len = sizeof h + rnd(&s) % (MP_MAX - sizeof h + 1);
        for (k = sizeof h; k < len; k++)
            buf[k] = (unsigned char)rnd(&s);
        h.id = (uint32_t)(i * r->per + j);
        h.len = (uint32_t)len;
        h.sum = fnv1a(buf + sizeof h, len - sizeof h);
        memcpy(buf, &h, sizeof h);
        rc = weft_queue_put(r->q, buf, len, 10000);
        if (rc < 0)
            return rc;
    }
    atomic_fetch_sub(&r->producing, 1);
    return 0;
}

/* Returns how many it took; the last get must say WEFT_ECLOSED. */
static int mp_consumer(void *p, int i)
{
    struct mp_run *r = p;
    unsigned char buf[MP_MAX];
    struct mp_hdr h;
    int n, got = 0;
    uint32_t total = (uint32_t)(r->per * MP_PRODUCERS);

    for (;;) {
        n = weft_queue_get(r->q, buf, sizeof buf, 10000);
        if (n == WEFT_ECLOSED)
            return got;
        if (n < (int)sizeof h)
            return n < 0 ? n : -1000000;
        memcpy(&h, buf, sizeof h);
        if (h.len != (uint32_t)n || h.id >= total ||
            h.sum != fnv1a(buf + sizeof h, (size_t)n - sizeof h))
            atomic_fetch_add(&r->bad, 1);
        else
            atomic_fetch_add(&r->seen[h.id], 1);
        got++;
    }
}

static void *mp_consumer_thread(void *p)
{
    struct mp_run *r = p;

    return (void *)(intptr_t)mp_consumer(r, 0);
}

static void test_mpmc_no_loss_no_dup(void **state)
{
    struct mp_run r;
    struct workers w;
    pthread_t cons[MP_CONSUMERS];
    void *ret;
    int i, total, got = 0;

    memset(&r, 0, sizeof r);
    r.per = UNDER_TSAN ? 10000 : 50000;
    total = r.per * MP_PRODUCERS;
    r.seen = calloc((size_t)total, sizeof *r.seen);
    assert_non_null(r.seen);
    atomic_store(&r.producing, MP_PRODUCERS);
    /* Both bounds, so puts wait on count and on bytes. */
    r.q = make(WEFT_QUEUE_FIFO, 256, 16384, 0, false);
    for (i = 0; i < MP_CONSUMERS; i++)
        assert_int_equal(pthread_create(&cons[i], NULL, mp_consumer_thread, &r),
                         0);
    workers_start(&w, false, MP_PRODUCERS, mp_producer, &r);
    assert_int_equal(workers_join_all(&w, 0, 30000), MP_PRODUCERS);
    assert_int_equal(atomic_load(&r.producing), 0);
    assert_int_equal(weft_queue_close(r.q), 0);
    for (i = 0; i < MP_CONSUMERS; i++) {
        assert_int_equal(pthread_join(cons[i], &ret), 0);
        assert_true((intptr_t)ret >= 0);
        got += (int)(intptr_t)ret;
    }
    assert_int_equal(atomic_load(&r.bad), 0);
    assert_int_equal(got, total);
    for (i = 0; i < total; i++)
        if (atomic_load(&r.seen[i]) != 1)
            fail_msg("message %d received %d times", i,
                     (int)atomic_load(&r.seen[i]));
    assert_int_equal(weft_queue_qsize(r.q), 0);
    assert_int_equal(weft_queue_destroy(r.q), 0);
    free(r.seen);
}

/* ---- LIFO --------------------------------------------------------------- */

static void test_lifo_order(void **state)
{
    weft_queue *q = make(WEFT_QUEUE_LIFO, 0, 0, 0, false);
    int i, v, n;

    for (i = 0; i < 1000; i++)
        assert_int_equal(weft_queue_put(q, &i, sizeof i, 0), 0);
    assert_int_equal(weft_queue_qsize(q), 1000);
    for (i = 999; i >= 0; i--) {
        n = weft_queue_get(q, &v, sizeof v, 0);
        assert_int_equal(n, (int)sizeof v);
        assert_int_equal(v, i);
    }
    assert_int_equal(weft_queue_get(q, &v, sizeof v, 0), -EAGAIN);
    /* Interleaved: always the newest. */
    put_str(q, "a");
    put_str(q, "b");
    get_str(q, "b");
    put_str(q, "c");
    get_str(q, "c");
    get_str(q, "a");
    /* Messages left behind are freed by destroy (ASan would tell). */
    put_str(q, "left");
    put_str(q, "behind");
    assert_int_equal(weft_queue_destroy(q), 0);
}

/* ---- Priority ----------------------------------------------------------- */

struct prio_item {
    int prio;
    int idx; /* put order */
};

static int prio_cmp(const void *a, const void *b)
{
    const struct prio_item *x = a, *y = b;

    if (x->prio != y->prio)
        return x->prio < y->prio ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int pick_prio(uint64_t *s)
{
    uint64_t r = rnd(s) % 1000;

    /* Mostly a narrow range, so equal priorities are common; now and then
     * the extremes. */
    if (r == 0)
        return INT_MIN;
    if (r == 1)
        return INT_MAX;
    return (int)(rnd(s) % 41) - 20;
}

static void test_priority_sorted(void **state)
{
    weft_queue *q = make(WEFT_QUEUE_PRIORITY, 0, 0, 0, false);
    int i, n, count = 20000;
    struct prio_item *ref = calloc((size_t)count, sizeof *ref), got;
    uint64_t s = 12345;

    assert_non_null(ref);
    for (i = 0; i < count; i++) {
        ref[i].prio = pick_prio(&s);
        ref[i].idx = i;
        /* Priority 0 also through plain put: the same as put_prio 0. */
        if (ref[i].prio == 0 && (i & 1))
            assert_int_equal(weft_queue_put(q, &ref[i], sizeof ref[i], 0), 0);
        else
            assert_int_equal(
                weft_queue_put_prio(q, ref[i].prio, &ref[i], sizeof ref[i], 0),
                0);
    }
    qsort(ref, (size_t)count, sizeof *ref, prio_cmp);
    assert_int_equal(weft_queue_qsize(q), count);
    for (i = 0; i < count; i++) {
        n = weft_queue_get(q, &got, sizeof got, 0);
        assert_int_equal(n, (int)sizeof got);
        assert_int_equal(got.prio, ref[i].prio);
        assert_int_equal(got.idx, ref[i].idx);
    }
    assert_int_equal(weft_queue_get(q, &got, sizeof got, 0), -EAGAIN);
    free(ref);
    for (i = 0; i < 100; i++)
        assert_int_equal(weft_queue_put_prio(q, i % 7, &i, sizeof i, 0), 0);
    assert_int_equal(weft_queue_destroy(q), 0);
}

/* Random puts and gets against a plain model (linear search for the
 * minimum), so the heap is checked while it grows and shrinks. */
static void test_priority_model(void **state)
{
    weft_queue *q = make(WEFT_QUEUE_PRIORITY, 0, 0, 0, false);
    struct prio_item *model = calloc(4096, sizeof *model), got, it;
    size_t held = 0, k, best;
    uint64_t s = 777;
    int op, n, idx = 0;

    assert_non_null(model);
    for (op = 0; op < 60000; op++) {
        /* Phases: mostly puts, then mostly gets, so the heap grows and
         * shrinks several times. */
        bool grow = (op / 5000) % 2 == 0;
        bool put =
            held == 0 || (held < 4096 && rnd(&s) % 100 < (grow ? 75u : 25u));
        if (put) {
            it.prio = pick_prio(&s);
            it.idx = idx++;
            model[held++] = it;
            assert_int_equal(weft_queue_put_prio(q, it.prio, &it, sizeof it, 0),
                             0);
            continue;
        }
        best = 0;
        for (k = 1; k < held; k++)
            if (prio_cmp(&model[k], &model[best]) < 0)
                best = k;
        n = weft_queue_get(q, &got, sizeof got, 0);
        assert_int_equal(n, (int)sizeof got);
        assert_int_equal(got.prio, model[best].prio);
        assert_int_equal(got.idx, model[best].idx);
        model[best] = model[--held];
        assert_int_equal(weft_queue_qsize(q), (int)held);
    }
    free(model);
    assert_int_equal(weft_queue_destroy(q), 0);
}

/* ---- Bounds ------------------------------------------------------------- */

/* Expect rc from fn-like expression within [lo, hi) milliseconds. */
#define ASSERT_TIMED(expr, want, lo, hi)                                       \
    do {                                                                       \
        int64_t t0_ = weft_now_ms(), dt_;                                      \
        assert_int_equal((expr), (want));                                      \
        dt_ = weft_now_ms() - t0_;                                             \
        if (dt_ < (lo) || dt_ >= (hi))                                         \
            fail_msg("took %lld ms, expected [%d, %d)", (long long)dt_,        \
                     (int)(lo), (int)(hi));                                    \
    } while (0)

static void test_bounded_items(void **state)
{
    weft_queue *q = make(WEFT_QUEUE_FIFO, 2, 0, 0, false);
    struct call c[1] = {{q, OP_PUT, -1, 5, {0}}};
    struct workers w;
    char buf[16];

    assert_int_equal(weft_queue_full(q), 0);
    put_str(q, "one");
    put_str(q, "two");
    assert_int_equal(weft_queue_full(q), 1);
    assert_int_equal(weft_queue_qsize(q), 2);
    ASSERT_TIMED(weft_queue_put(q, "x", 1, 0), -EAGAIN, 0, 50);
    ASSERT_TIMED(weft_queue_put(q, "x", 1, 80), -ETIMEDOUT, 75, 2000);
    assert_int_equal(weft_queue_qsize(q), 2);

    /* A put waiting forever gets in when a get makes room. */
    start_blocked(&w, c, 1);
    get_str(q, "one");
    assert_int_equal(workers_join(&w, 0, 3000), 0);
    assert_int_equal(weft_queue_qsize(q), 2);
    get_str(q, "two");
    assert_int_equal(weft_queue_get(q, buf, sizeof buf, 0), 5);
    assert_memory_equal(buf, "ppppp", 5);

    /* A put with a timeout gets in too, well before it runs out. */
    put_str(q, "three");
    put_str(q, "four");
    c[0].timeout_ms = 5000;
    start_blocked(&w, c, 1);
    get_str(q, "three");
    assert_int_equal(workers_join(&w, 0, 3000), 0);
    get_str(q, "four");
    assert_int_equal(weft_queue_get(q, buf, sizeof buf, 0), 5);

    /* The empty side: get times out, and waits for a put. */
    ASSERT_TIMED(weft_queue_get(q, buf, sizeof buf, 0), -EAGAIN, 0, 50);
    ASSERT_TIMED(weft_queue_get(q, buf, sizeof buf, 80), -ETIMEDOUT, 75, 2000);
    c[0].op = OP_GET;
    c[0].len = sizeof c[0].buf;
    c[0].timeout_ms = -1;
    start_blocked(&w, c, 1);
    put_str(q, "wake");
    assert_int_equal(workers_join(&w, 0, 3000), 4);
    assert_memory_equal(c[0].buf, "wake", 4);
    assert_int_equal(weft_queue_destroy(q), 0);
}

static void test_bounded_bytes(void **state)
{
    weft_queue *q = make(WEFT_QUEUE_FIFO, 0, 100, 0, false);
    struct call c[2] = {{q, OP_PUT, -1, 50, {0}}, {q, OP_PUT, -1, 10, {0}}};
    unsigned char buf[128], big[101];
    struct workers w;

    memset(big, 'b', sizeof big);
    assert_int_equal(weft_queue_put(q, big, 60, 0), 0);
    ASSERT_TIMED(weft_queue_put(q, big, 41, 0), -EAGAIN, 0, 50);
    ASSERT_TIMED(weft_queue_put(q, big, 41, 60), -ETIMEDOUT, 55, 2000);
    assert_int_equal(weft_queue_full(q), 0);
    assert_int_equal(weft_queue_put(q, big, 40, 0), 0);
    assert_int_equal(weft_queue_full(q), 1);
    assert_int_equal(weft_queue_put(q, big, 1, 0), -EAGAIN);

    /* Two blocked puts; one get of 60 bytes makes room for both (50 + 10
     * on top of the 40 left): both must wake, not just one. */
    start_blocked(&w, c, 2);
    assert_int_equal(weft_queue_get(q, buf, sizeof buf, 0), 60);
    assert_int_equal(workers_join(&w, 0, 3000), 0);
    assert_int_equal(workers_join(&w, 1, 3000), 0);
    assert_int_equal(weft_queue_qsize(q), 3);
    assert_int_equal(weft_queue_full(q), 1);
    assert_int_equal(weft_queue_get(q, buf, sizeof buf, 0), 40);
    /* The two woken puts went in in either order. */
    assert_int_equal(weft_queue_get(q, buf, sizeof buf, 0) +
                         weft_queue_get(q, buf, sizeof buf, 0),
                     60);
    assert_int_equal(weft_queue_qsize(q), 0);

    /* max_msg defaults to max_bytes: a full-size message fits an empty
     * queue, one byte more never fits. */
    assert_int_equal(weft_queue_put(q, big, 100, 0), 0);
    assert_int_equal(weft_queue_full(q), 1);
    assert_int_equal(weft_queue_get(q, buf, sizeof buf, 0), 100);
    ASSERT_TIMED(weft_queue_put(q, big, 101, -1), -EMSGSIZE, 0, 50);
    assert_int_equal(weft_queue_destroy(q), 0);
}

static void test_msgsize(void **state)
{
    weft_queue_opts o = {0};
    weft_queue *q = make(WEFT_QUEUE_FIFO, 0, 0, 10, false);
    unsigned char big[200];

    memset(big, 'm', sizeof big);
    assert_int_equal(weft_queue_put(q, big, 10, 0), 0);
    ASSERT_TIMED(weft_queue_put(q, big, 11, -1), -EMSGSIZE, 0, 50);
    assert_int_equal(weft_queue_qsize(q), 1);
    assert_int_equal(weft_queue_destroy(q), 0);

    /* max_msg below max_bytes: max_msg decides. */
    q = make(WEFT_QUEUE_PRIORITY, 0, 100, 50, false);
    assert_int_equal(weft_queue_put_prio(q, 1, big, 50, 0), 0);
    assert_int_equal(weft_queue_put_prio(q, 1, big, 51, -1), -EMSGSIZE);
    assert_int_equal(weft_queue_destroy(q), 0);

    /* max_msg over max_bytes cannot be kept. */
    o.max_bytes = 100;
    o.max_msg = 200;
    q = (weft_queue *)(void *)&o; /* any non-NULL: create must clear it */
    assert_int_equal(weft_queue_create(&q, NULL, &o), -EINVAL);
    assert_null(q);
}

/* ---- -ENOBUFS and next_len ---------------------------------------------- */

static void test_nobufs_and_next_len(void **state)
{
    weft_queue *q = make(WEFT_QUEUE_FIFO, 0, 0, 0, false);
    struct call c[2];
    struct workers w;
    char buf[64];
    int rc;

    put_str(q, "hello world");
    put_str(q, "second");
    assert_int_equal(weft_queue_get(q, buf, 5, 0), -ENOBUFS);
    assert_int_equal(weft_queue_get(q, NULL, 0, -1), -ENOBUFS);
    assert_int_equal(weft_queue_qsize(q), 2);
    assert_int_equal(weft_queue_next_len(q, 0), 11);
    assert_int_equal(weft_queue_next_len(q, -1), 11);
    assert_int_equal(weft_queue_qsize(q), 2);
    assert_int_equal(weft_queue_get(q, buf, 11, 0), 11);
    assert_memory_equal(buf, "hello world", 11);
    assert_int_equal(weft_queue_next_len(q, 0), 6);
    get_str(q, "second");
    ASSERT_TIMED(weft_queue_next_len(q, 0), -EAGAIN, 0, 50);
    ASSERT_TIMED(weft_queue_next_len(q, 70), -ETIMEDOUT, 65, 2000);

    /* next_len waits like get, and takes nothing. */
    memset(c, 0, sizeof c);
    c[0].q = q;
    c[0].op = OP_NEXT_LEN;
    c[0].timeout_ms = -1;
    start_blocked(&w, c, 1);
    put_str(q, "seven!!");
    assert_int_equal(workers_join(&w, 0, 3000), 7);
    get_str(q, "seven!!");

    /* A next_len waiter and a get waiter; one put. Whoever the put wakes,
     * the getter must end up with the message. */
    c[1] = c[0];
    c[1].op = OP_GET;
    c[1].len = sizeof c[1].buf;
    start_blocked(&w, c, 2);
    put_str(q, "pass");
    assert_int_equal(workers_join(&w, 1, 3000), 4);
    assert_memory_equal(c[1].buf, "pass", 4);
    put_str(q, "more");
    assert_int_equal(workers_join(&w, 0, 3000), 4);
    get_str(q, "more");

    /* The same with a getter whose buffer is too small. */
    c[0].op = OP_GET;
    c[0].len = 2;
    start_blocked(&w, c, 2);
    put_str(q, "fits");
    assert_int_equal(workers_join(&w, 1, 3000), 4);
    assert_memory_equal(c[1].buf, "fits", 4);
    assert_int_equal(weft_queue_close(q), 0);
    rc = workers_join(&w, 0, 3000);
    assert_true(rc == -ENOBUFS || rc == WEFT_ECLOSED);
    assert_int_equal(weft_queue_destroy(q), 0);
}

/* ---- Close -------------------------------------------------------------- */

#define CLOSE_CONSUMERS 8

struct close_run {
    weft_queue *q;
    _Atomic int got;
};

static int close_consumer(void *p, int i)
{
    struct close_run *r = p;
    char buf[16];
    int n;

    for (;;) {
        n = weft_queue_get(r->q, buf, sizeof buf, -1);
        if (n < 0)
            return n;
        atomic_fetch_add(&r->got, 1);
    }
}

static void test_close_many_consumers(void **state)
{
    struct close_run r;
    struct workers w;
    struct call c[1];
    int64_t t0;
    int i;

    r.q = make(WEFT_QUEUE_FIFO, 0, 0, 0, false);
    atomic_init(&r.got, 0);
    for (i = 0; i < 500; i++)
        assert_int_equal(weft_queue_put(r.q, &i, sizeof i, 0), 0);
    workers_start(&w, false, CLOSE_CONSUMERS, close_consumer, &r);
    for (i = 500; i < 1000; i++)
        assert_int_equal(weft_queue_put(r.q, &i, sizeof i, 0), 0);
    /* Let them drain and fall asleep on the empty queue. (Asleep alone
     * is not enough: a consumer may sleep on the lock while others
     * drain.) */
    t0 = weft_now_ms();
    while (atomic_load(&r.got) < 1000 && weft_now_ms() - t0 < 3000)
        usleep(1000);
    assert_int_equal(atomic_load(&r.got), 1000);
    assert_int_equal(weft_queue_qsize(r.q), 0);
    for (i = 0; i < CLOSE_CONSUMERS; i++)
        assert_true(worker_sleeping(&w, i, 3000));
    assert_int_equal(weft_queue_closed(r.q), 0);
    assert_int_equal(weft_queue_destroy(r.q), -EBUSY);
    assert_int_equal(weft_queue_close(r.q), 0);
    assert_int_equal(workers_join_all(&w, WEFT_ECLOSED, 3000), CLOSE_CONSUMERS);
    assert_int_equal(weft_queue_closed(r.q), 1);
    assert_int_equal(weft_queue_close(r.q), 0);
    assert_int_equal(weft_queue_put(r.q, "x", 1, -1), WEFT_ECLOSED);
    assert_int_equal(weft_queue_destroy(r.q), 0);

    /* Closed with messages left: they drain first; a waiting put is
     * turned away. */
    r.q = make(WEFT_QUEUE_FIFO, 1, 0, 0, false);
    put_str(r.q, "last");
    memset(c, 0, sizeof c);
    c[0].q = r.q;
    c[0].op = OP_PUT;
    c[0].len = 3;
    c[0].timeout_ms = -1;
    start_blocked(&w, c, 1);
    assert_int_equal(weft_queue_close(r.q), 0);
    assert_int_equal(workers_join(&w, 0, 3000), WEFT_ECLOSED);
    assert_int_equal(weft_queue_qsize(r.q), 1);
    assert_int_equal(weft_queue_next_len(r.q, -1), 4);
    get_str(r.q, "last");
    assert_int_equal(weft_queue_get(r.q, c[0].buf, 16, -1), WEFT_ECLOSED);
    assert_int_equal(weft_queue_next_len(r.q, -1), WEFT_ECLOSED);
    assert_int_equal(weft_queue_destroy(r.q), 0);
}

/* ---- Joinable ----------------------------------------------------------- */

static void test_joinable(void **state)
{
    weft_queue *q = make(WEFT_QUEUE_FIFO, 0, 0, 0, true);
    struct call c[1];
    struct workers w;

    assert_int_equal(weft_queue_join(q, 0), 0);
    assert_int_equal(weft_queue_task_done(q), -EOVERFLOW);
    put_str(q, "a");
    put_str(q, "b");
    put_str(q, "c");
    ASSERT_TIMED(weft_queue_join(q, 0), -EAGAIN, 0, 50);
    ASSERT_TIMED(weft_queue_join(q, 60), -ETIMEDOUT, 55, 2000);

    memset(c, 0, sizeof c);
    c[0].q = q;
    c[0].op = OP_JOIN;
    c[0].timeout_ms = -1;
    start_blocked(&w, c, 1);
    assert_int_equal(weft_queue_destroy(q), -EBUSY);
    get_str(q, "a");
    get_str(q, "b");
    get_str(q, "c");
    /* Taken is not done: join still waits. */
    assert_int_equal(weft_queue_task_done(q), 0);
    assert_int_equal(weft_queue_task_done(q), 0);
    usleep(20000);
    assert_false(worker_done(&w, 0));
    assert_int_equal(weft_queue_task_done(q), 0);
    assert_int_equal(workers_join(&w, 0, 3000), 0);
    assert_int_equal(weft_queue_task_done(q), -EOVERFLOW);
    assert_int_equal(weft_queue_join(q, 0), 0);
    assert_int_equal(weft_queue_destroy(q), 0);

    /* Not joinable: both refused. */
    q = make(WEFT_QUEUE_LIFO, 0, 0, 0, false);
    put_str(q, "x");
    assert_int_equal(weft_queue_task_done(q), -EINVAL);
    assert_int_equal(weft_queue_join(q, 0), -EINVAL);
    assert_int_equal(weft_queue_destroy(q), 0);
}

/* ---- Destroy while waited on -------------------------------------------- */

static void test_destroy_busy(void **state)
{
    weft_queue *q = make(WEFT_QUEUE_PRIORITY, 1, 0, 0, false);
    struct call c[1];
    struct workers w;

    memset(c, 0, sizeof c);
    c[0].q = q;
    c[0].op = OP_GET;
    c[0].len = sizeof c[0].buf;
    c[0].timeout_ms = -1;
    start_blocked(&w, c, 1);
    assert_int_equal(weft_queue_destroy(q), -EBUSY);
    put_str(q, "go");
    assert_int_equal(workers_join(&w, 0, 3000), 2);

    put_str(q, "full");
    c[0].op = OP_PUT;
    c[0].len = 1;
    start_blocked(&w, c, 1);
    assert_int_equal(weft_queue_destroy(q), -EBUSY);
    get_str(q, "full");
    assert_int_equal(workers_join(&w, 0, 3000), 0);
    /* Nobody waits now; a message still held is freed with the queue. */
    assert_int_equal(weft_queue_qsize(q), 1);
    assert_int_equal(weft_queue_destroy(q), 0);
    assert_int_equal(weft_queue_destroy(NULL), 0);
}

/* ---- Bad input ---------------------------------------------------------- */

static void test_bad_input(void **state)
{
    weft_queue_opts o = {0};
    weft_queue *q;
    const void *peek;
    void *where;
    char buf[8];

    assert_int_equal(weft_queue_create(NULL, NULL, NULL), -EINVAL);
    o.kind = 3;
    assert_int_equal(weft_queue_create(&q, NULL, &o), -EINVAL);
    o.kind = -1;
    assert_int_equal(weft_queue_create(&q, NULL, &o), -EINVAL);
    /* LIFO and priority are for threads only. */
    o.kind = WEFT_QUEUE_LIFO;
    assert_int_equal(weft_queue_create(&q, WEFT_SHARED, &o), -EINVAL);
    assert_null(q);
    o.kind = WEFT_QUEUE_PRIORITY;
    assert_int_equal(weft_queue_create(&q, WEFT_SHARED, &o), -EINVAL);
    assert_null(q);

    /* NULL opts: an unbounded FIFO. */
    assert_int_equal(weft_queue_create(&q, NULL, NULL), 0);
    assert_int_equal(weft_queue_put(q, NULL, 1, 0), -EINVAL);
    assert_int_equal(weft_queue_put(q, "x", 0, 0), -EINVAL);
    assert_int_equal(weft_queue_put(NULL, "x", 1, 0), -EINVAL);
    assert_int_equal(weft_queue_put_prio(q, 1, "x", 1, 0), -EINVAL);
    assert_int_equal(weft_queue_get(q, NULL, 5, 0), -EINVAL);
    assert_int_equal(weft_queue_get(NULL, buf, sizeof buf, 0), -EINVAL);
    assert_int_equal(weft_queue_next_len(NULL, 0), -EINVAL);
    /* Zero-copy calls are for shared queues. */
    assert_int_equal(weft_queue_reserve(q, 1, &where, 0), -EINVAL);
    assert_int_equal(weft_queue_commit(q), -EINVAL);
    assert_int_equal(weft_queue_cancel(q), -EINVAL);
    assert_int_equal(weft_queue_peek(q, &peek, 0), -EINVAL);
    assert_int_equal(weft_queue_release(q), -EINVAL);
    assert_int_equal(weft_queue_unpeek(q), -EINVAL);
    assert_int_equal(weft_queue_task_done(q), -EINVAL);
    assert_int_equal(weft_queue_join(q, 0), -EINVAL);
    assert_int_equal(weft_queue_qsize(NULL), -EINVAL);
    assert_int_equal(weft_queue_full(NULL), -EINVAL);
    assert_int_equal(weft_queue_empty(NULL), -EINVAL);
    assert_int_equal(weft_queue_close(NULL), -EINVAL);
    assert_int_equal(weft_queue_closed(NULL), -EINVAL);
    /* Unbounded: never full. */
    for (int i = 0; i < 100; i++)
        put_str(q, "fill");
    assert_int_equal(weft_queue_full(q), 0);
    assert_int_equal(weft_queue_empty(q), 0);
    assert_int_equal(weft_queue_qsize(q), 100);
    assert_int_equal(weft_queue_destroy(q), 0);

    q = make(WEFT_QUEUE_LIFO, 0, 0, 0, false);
    assert_int_equal(weft_queue_put_prio(q, 0, "x", 1, 0), -EINVAL);
    assert_int_equal(weft_queue_destroy(q), 0);
}

/* An unbounded FIFO between threads grows: its ring doubles whenever a put
 * finds it full - with the head anywhere in it, the ring wrapped, and for a
 * single message larger than the whole ring - and loses nothing. */
static void test_fifo_grows(void **state)
{
    static unsigned char big[3 << 20], out[3 << 20];
    weft_queue *q;
    unsigned seed = 5, put = 0, got = 0;
    int i, n;

    (void)state;
    assert_int_equal(weft_queue_create(&q, NULL, NULL), 0);
    for (i = 0; i < (int)sizeof big; i++)
        big[i] = (unsigned char)(i * 7 + 3);
    for (i = 0; i < 40000; i++) {
        size_t len = 1 + (size_t)rand_r(&seed) % 700;
        unsigned char m[700];
        memset(m, (int)(put & 0xff), len);
        m[0] = (unsigned char)(put & 0xff);
        assert_int_equal(weft_queue_put(q, m, len, 0), 0);
        put++;
        if (i % 3 == 0) { /* move the head, so growth copies a wrap */
            n = weft_queue_get(q, out, sizeof out, 0);
            assert_true(n > 0);
            assert_int_equal(out[0], (unsigned char)(got & 0xff));
            assert_int_equal(out[n - 1], (unsigned char)(got & 0xff));
            got++;
        }
    }
    assert_int_equal(weft_queue_put(q, big, sizeof big, 0), 0); /* > ring */
    assert_int_equal(weft_queue_qsize(q), (int)(put - got + 1));
    while (got < put) {
        n = weft_queue_get(q, out, sizeof out, 0);
        assert_true(n > 0);
        assert_int_equal(out[n - 1], (unsigned char)(got & 0xff));
        got++;
    }
    assert_int_equal(weft_queue_get(q, out, sizeof out, 0), (int)sizeof big);
    assert_memory_equal(out, big, sizeof big);
    assert_int_equal(weft_queue_get(q, out, sizeof out, 0), -EAGAIN);
    assert_int_equal(weft_queue_destroy(q), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_grows),
        cmocka_unit_test(test_fifo_order_per_producer),
        cmocka_unit_test(test_mpmc_no_loss_no_dup),
        cmocka_unit_test(test_lifo_order),
        cmocka_unit_test(test_priority_sorted),
        cmocka_unit_test(test_priority_model),
        cmocka_unit_test(test_bounded_items),
        cmocka_unit_test(test_bounded_bytes),
        cmocka_unit_test(test_msgsize),
        cmocka_unit_test(test_nobufs_and_next_len),
        cmocka_unit_test(test_close_many_consumers),
        cmocka_unit_test(test_joinable),
        cmocka_unit_test(test_destroy_busy),
        cmocka_unit_test(test_bad_input),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
