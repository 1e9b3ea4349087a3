/* test_chan.c - channels, select and the coroutine semaphore, event and
 * wait group (weft/co.h): unbuffered rendezvous both ways, buffered FIFO
 * order and blocking when full, unbounded channels that never block, every
 * timeout path, close (drain, then WEFT_ECLOSED; every waiter woken),
 * select (first ready wins, a waiting select completed by exactly one
 * channel with nothing lost or duplicated, timeouts, closed channels, NULL
 * channels), cancellation of every kind of waiter (and a completed
 * operation winning over a cancel or a deadline that comes at the same
 * time), 100 coroutines passing 100,000 items exactly once, a semaphore
 * limiting concurrency, events and wait groups, -EPERM outside a
 * scheduler, destroy refused while waited on, and bad input.
 *
 * Each test runs its body as the first coroutine of weft_co_run. cmocka's
 * asserts longjmp, which must not cross coroutine stacks, so coroutines
 * CHECK instead: the first failure is recorded and reported by the test
 * after weft_co_run returns. A coroutine meant to block is spawned and
 * given a weft_co_yield to get there before the test acts. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <weft/weft.h>

#include <weft/co.h>

/* ---- checks inside coroutines ------------------------------------------ */

static struct {
    int count;        /* failed checks */
    const char *file; /* the first one */
    int line;
    const char *expr;
    long long a, b;
} g_fail;

static void note_fail(const char *file, int line, const char *expr, long long a,
                      long long b)
{
    if (g_fail.count++ > 0)
        return;
    g_fail.file = file;
    g_fail.line = line;
    g_fail.expr = expr;
    g_fail.a = a;
    g_fail.b = b;
}

#define CHECK(c)                                                               \
    do {                                                                       \
        if (!(c))                                                              \
            note_fail(__FILE__, __LINE__, #c, 0, 0);                           \
    } while (0)

#define CHECK_EQ(x, y)                                                         \
    do {                                                                       \
        long long x_ = (long long)(x), y_ = (long long)(y);                    \
        if (x_ != y_)                                                          \
            note_fail(__FILE__, __LINE__, #x " == " #y, x_, y_);               \
    } while (0)

/* Run fn as a scheduler's first coroutine; fail on any CHECK. */
static void run(weft_co_fn fn, void *arg)
{
    int result = -1;
    int rc;

    memset(&g_fail, 0, sizeof g_fail);
    rc = weft_co_run(fn, arg, NULL, &result);
    if (g_fail.count > 0)
        fail_msg("%s:%d: %s (%lld vs %lld); %d failed checks", g_fail.file,
                 g_fail.line, g_fail.expr, g_fail.a, g_fail.b, g_fail.count);
    assert_int_equal(rc, 0);
    assert_int_equal(result, 0);
}

static weft_co *go(weft_co_fn fn, void *arg)
{
    weft_co *c = NULL;

    CHECK_EQ(weft_co_spawn(&c, fn, arg, NULL), 0);
    return c;
}

/* Join and release c: its return value. */
static int join(weft_co *c)
{
    int r = -99999;

    CHECK_EQ(weft_co_join(c, -1, &r), 0);
    weft_co_release(c);
    return r;
}

static weft_chan *chan(size_t capacity)
{
    weft_chan *ch = NULL;

    CHECK_EQ(weft_chan_create(&ch, sizeof(int), capacity), 0);
    return ch;
}

static int send_int(weft_chan *ch, int v, int timeout_ms)
{
    return weft_chan_send(ch, &v, timeout_ms);
}

/* Receive an int; -1000000 if the receive failed. */
static int recv_int(weft_chan *ch, int timeout_ms)
{
    int v = -1000000;

    CHECK_EQ(weft_chan_recv(ch, &v, timeout_ms), 0);
    return v;
}

/* ---- one blocking call in a coroutine of its own ---------------------- */

enum { OP_SEND, OP_RECV, OP_SELECT, OP_SEM, OP_EVENT, OP_WG };

struct op {
    int kind;
    int timeout_ms;
    weft_chan *ch;         /* OP_SEND, OP_RECV */
    weft_chan_case *cases; /* OP_SELECT */
    size_t n;
    weft_co_sem *sem;  /* OP_SEM */
    weft_co_event *ev; /* OP_EVENT */
    weft_co_wg *wg;    /* OP_WG */
    int value;         /* OP_SEND: sent; OP_RECV: received */
    int rc;            /* what the call returned */
    int *order;        /* if set: *order++ recorded in `seq` at return */
    int seq;
    bool started, finished;
};

static int op_fn(void *p)
{
    struct op *o = p;

    o->started = true;
    switch (o->kind) {
    case OP_SEND:
        o->rc = weft_chan_send(o->ch, &o->value, o->timeout_ms);
        break;
    case OP_RECV:
        o->rc = weft_chan_recv(o->ch, &o->value, o->timeout_ms);
        break;
    case OP_SELECT:
        o->rc = weft_chan_select(o->cases, o->n, o->timeout_ms);
        break;
    case OP_SEM:
        o->rc = weft_co_sem_acquire(o->sem, o->timeout_ms);
        break;
    case OP_EVENT:
        o->rc = weft_co_event_wait(o->ev, o->timeout_ms);
        break;
    default:
        o->rc = weft_co_wg_wait(o->wg, o->timeout_ms);
        break;
    }
    if (o->order != NULL)
        o->seq = (*o->order)++;
    o->finished = true;
    return o->rc;
}

/* Spawn o and let it reach its blocking point. */
static weft_co *start_blocked(struct op *o)
{
    weft_co *c = go(op_fn, o);

    CHECK_EQ(weft_co_yield(), 0);
    CHECK(o->started);
    CHECK(!o->finished);
    return c;
}

/* ---- unbuffered --------------------------------------------------------- */

static int echo_fn(void *p)
{
    weft_chan **io = p;
    int v;

    while (weft_chan_recv(io[0], &v, -1) == 0)
        CHECK_EQ(send_int(io[1], v + 1, -1), 0);
    return 0;
}

static int main_unbuffered(void *arg)
{
    weft_chan *ch = chan(0), *io[2] = {chan(0), chan(0)};
    struct op r = {.kind = OP_RECV, .timeout_ms = -1};
    struct op s = {.kind = OP_SEND, .timeout_ms = -1, .value = 43};
    weft_co *c;
    int v = 7;

    /* Nobody on the other side. */
    CHECK_EQ(weft_chan_send(ch, &v, 0), -EAGAIN);
    CHECK_EQ(weft_chan_recv(ch, &v, 0), -EAGAIN);

    /* The receiver waits for the sender; the send does not wait. */
    r.ch = ch;
    c = start_blocked(&r);
    CHECK_EQ(send_int(ch, 42, 0), 0);
    CHECK_EQ(weft_chan_len(ch), 0);
    CHECK_EQ(join(c), 0);
    CHECK_EQ(r.value, 42);

    /* The sender waits for the receiver. */
    s.ch = ch;
    c = start_blocked(&s);
    CHECK_EQ(weft_chan_len(ch), 0);
    CHECK_EQ(recv_int(ch, 0), 43);
    CHECK_EQ(join(c), 0);
    CHECK_EQ(s.rc, 0);

    /* Ping-pong. */
    c = go(echo_fn, io);
    for (int i = 0; i < 1000; i++) {
        CHECK_EQ(send_int(io[0], i, -1), 0);
        CHECK_EQ(recv_int(io[1], -1), i + 1);
    }
    CHECK_EQ(weft_chan_close(io[0]), 0);
    CHECK_EQ(join(c), 0);

    CHECK_EQ(weft_chan_destroy(ch), 0);
    CHECK_EQ(weft_chan_destroy(io[0]), 0);
    CHECK_EQ(weft_chan_destroy(io[1]), 0);
    return 0;
}

static void test_unbuffered_rendezvous(void **state)
{
    run(main_unbuffered, NULL);
}

/* ---- buffered ----------------------------------------------------------- */

static int main_buffered(void *arg)
{
    weft_chan *ch = chan(4);
    struct op s[4];
    weft_co *c[4];

    for (int i = 0; i < 4; i++)
        CHECK_EQ(send_int(ch, i, 0), 0);
    CHECK_EQ(weft_chan_len(ch), 4);
    CHECK_EQ(send_int(ch, 4, 0), -EAGAIN);

    /* Full: senders wait, and get in, in FIFO order. */
    for (int i = 0; i < 3; i++) {
        s[i] = (struct op){.kind = OP_SEND, .ch = ch, .timeout_ms = -1};
        s[i].value = 100 + i;
        c[i] = start_blocked(&s[i]);
    }
    CHECK_EQ(weft_chan_len(ch), 4);
    CHECK_EQ(recv_int(ch, 0), 0);
    CHECK_EQ(weft_chan_len(ch), 4); /* 100 moved in */
    CHECK_EQ(join(c[0]), 0);
    CHECK(!s[1].finished);
    for (int i = 1; i < 4; i++)
        CHECK_EQ(recv_int(ch, 0), i);
    CHECK_EQ(join(c[1]), 0);
    CHECK_EQ(join(c[2]), 0);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(recv_int(ch, 0), 100 + i);
    CHECK_EQ(weft_chan_len(ch), 0);
    CHECK_EQ(weft_chan_recv(ch, &(int){0}, 0), -EAGAIN);

    /* Wrap around the ring many times. */
    for (int i = 0; i < 1000; i++) {
        CHECK_EQ(send_int(ch, 2 * i, 0), 0);
        CHECK_EQ(send_int(ch, 2 * i + 1, 0), 0);
        CHECK_EQ(recv_int(ch, 0), 2 * i);
        CHECK_EQ(recv_int(ch, 0), 2 * i + 1);
    }

    /* Items of any size. */
    {
        weft_chan *big = NULL;
        char in[100], out[100];

        CHECK_EQ(weft_chan_create(&big, sizeof in, 2), 0);
        for (int i = 0; i < 10; i++) {
            memset(in, 'a' + i, sizeof in);
            CHECK_EQ(weft_chan_send(big, in, 0), 0);
            CHECK_EQ(weft_chan_recv(big, out, 0), 0);
            CHECK(memcmp(in, out, sizeof in) == 0);
        }
        CHECK_EQ(weft_chan_destroy(big), 0);
    }
    CHECK_EQ(weft_chan_destroy(ch), 0);
    return 0;
}

static void test_buffered_fifo_and_full(void **state)
{
    run(main_buffered, NULL);
}

/* ---- unbounded ---------------------------------------------------------- */

static int spy_fn(void *p)
{
    *(bool *)p = true;
    return 0;
}

static int main_unbounded(void *arg)
{
    weft_chan *ch = chan(WEFT_CHAN_UNBOUNDED);
    bool ran = false;
    weft_co *spy = go(spy_fn, &ran);
    int next_in = 0, next_out = 0;

    /* Never waits, so never lets the spy run. */
    for (int i = 0; i < 100000; i++)
        CHECK_EQ(send_int(ch, i, -1), 0);
    CHECK(!ran);
    CHECK_EQ(weft_chan_len(ch), 100000);
    for (int i = 0; i < 100000; i++)
        CHECK_EQ(recv_int(ch, 0), i);
    CHECK_EQ(weft_chan_len(ch), 0);
    CHECK_EQ(weft_chan_recv(ch, &(int){0}, 0), -EAGAIN);
    CHECK(!ran);

    /* Grow while wrapped: three in, two out. */
    for (int i = 0; i < 30000; i++) {
        for (int k = 0; k < 3; k++)
            CHECK_EQ(send_int(ch, next_in++, 0), 0);
        for (int k = 0; k < 2; k++)
            CHECK_EQ(recv_int(ch, 0), next_out++);
    }
    CHECK_EQ(weft_chan_len(ch), 30000);
    while (next_out < next_in)
        CHECK_EQ(recv_int(ch, 0), next_out++);

    /* A waiting receiver still gets the item directly. */
    {
        struct op r = {.kind = OP_RECV, .ch = ch, .timeout_ms = -1};
        weft_co *c = start_blocked(&r);

        CHECK_EQ(send_int(ch, 5, 0), 0);
        CHECK_EQ(weft_chan_len(ch), 0);
        CHECK_EQ(join(c), 0);
        CHECK_EQ(r.value, 5);
    }
    CHECK_EQ(join(spy), 0);
    CHECK_EQ(weft_chan_destroy(ch), 0);
    return 0;
}

static void test_unbounded_never_blocks(void **state)
{
    run(main_unbounded, NULL);
}

/* ---- timeouts ---------------------------------------------------------- */

/* elapsed ms should be about want: not early, not very late. */
#define CHECK_TIME(t0, want)                                                   \
    do {                                                                       \
        int64_t el_ = weft_now_ms() - (t0);                                    \
        CHECK(el_ >= (want)-1);                                                \
        CHECK(el_ < (want) + 500);                                             \
    } while (0)

static void busy_wait_ms(int ms)
{
    int64_t end = weft_now_ms() + ms;

    while (weft_now_ms() < end)
        ;
}

/* Sleep, then send without waiting: the receiver must be there. */
struct late {
    weft_chan *ch;
    int value;
    int sleep_ms;
};

static int late_send_fn(void *p)
{
    struct late *l = p;

    CHECK_EQ(weft_co_sleep(l->sleep_ms), 0);
    CHECK_EQ(send_int(l->ch, l->value, 0), 0);
    return 0;
}

static int main_timeouts(void *arg)
{
    weft_chan *ch = chan(0), *full = chan(1);
    int64_t t0;
    int v = 0;

    t0 = weft_now_ms();
    CHECK_EQ(weft_chan_recv(ch, &v, 60), -ETIMEDOUT);
    CHECK_TIME(t0, 60);
    t0 = weft_now_ms();
    CHECK_EQ(weft_chan_send(ch, &v, 30), -ETIMEDOUT);
    CHECK_TIME(t0, 30);
    CHECK_EQ(send_int(full, 1, 0), 0);
    t0 = weft_now_ms();
    CHECK_EQ(send_int(full, 2, 40), -ETIMEDOUT);
    CHECK_TIME(t0, 40);
    CHECK_EQ(weft_chan_len(full), 1);
    CHECK_EQ(recv_int(full, 0), 1);

    /* The timed-out waiters left: the channels still work. */
    CHECK_EQ(send_int(ch, 1, 0), -EAGAIN);
    CHECK_EQ(send_int(full, 3, 0), 0);
    CHECK_EQ(recv_int(full, 0), 3);

    /* An item handed over after the deadline passed but before the
     * waiter ran again is delivered, not lost: recv reports success. */
    {
        struct op r = {.kind = OP_RECV, .ch = ch, .timeout_ms = 20};
        weft_co *c = start_blocked(&r);

        busy_wait_ms(40);
        CHECK_EQ(send_int(ch, 77, 0), 0);
        CHECK_EQ(join(c), 0);
        CHECK_EQ(r.value, 77);
    }
    /* Its deadline already fired (it is runnable with -ETIMEDOUT) when a
     * coroutine that ran first hands it the item: still a success. */
    {
        struct op r = {.kind = OP_RECV, .ch = ch, .timeout_ms = 10};
        struct late l = {ch, 79, 10};
        weft_co *k = go(late_send_fn, &l), *c;

        CHECK_EQ(weft_co_yield(), 0); /* k sleeps first: it wakes first */
        c = start_blocked(&r);
        busy_wait_ms(30); /* both deadlines pass meanwhile */
        CHECK_EQ(join(k), 0);
        CHECK_EQ(join(c), 0);
        CHECK_EQ(r.value, 79);
    }
    /* Likewise for a timed-out sender whose item was taken. */
    {
        struct op s = {.kind = OP_SEND, .ch = ch, .timeout_ms = 20};
        weft_co *c;

        s.value = 78;
        c = start_blocked(&s);
        busy_wait_ms(40);
        CHECK_EQ(recv_int(ch, 0), 78);
        CHECK_EQ(join(c), 0);
    }
    CHECK_EQ(weft_chan_destroy(ch), 0);
    CHECK_EQ(weft_chan_destroy(full), 0);
    return 0;
}

static void test_timeouts(void **state)
{
    run(main_timeouts, NULL);
}

/* ---- close -----------------------------------------------------------------
 */

static int main_close(void *arg)
{
    weft_chan *ch = chan(4), *ub = chan(0), *full = chan(2);
    struct op ops[5];
    weft_co *c[5];
    int v = 0;

    /* Buffered items drain first, then WEFT_ECLOSED for good. */
    for (int i = 0; i < 3; i++)
        CHECK_EQ(send_int(ch, i, 0), 0);
    CHECK_EQ(weft_chan_close(ch), 0);
    CHECK_EQ(weft_chan_close(ch), 0); /* idempotent */
    CHECK_EQ(send_int(ch, 9, 0), WEFT_ECLOSED);
    CHECK_EQ(send_int(ch, 9, -1), WEFT_ECLOSED);
    CHECK_EQ(weft_chan_len(ch), 3);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(recv_int(ch, -1), i);
    CHECK_EQ(weft_chan_recv(ch, &v, -1), WEFT_ECLOSED);
    CHECK_EQ(weft_chan_recv(ch, &v, 0), WEFT_ECLOSED);

    /* Every blocked receiver wakes with WEFT_ECLOSED. */
    for (int i = 0; i < 5; i++) {
        ops[i] = (struct op){.kind = OP_RECV, .ch = ub, .timeout_ms = -1};
        c[i] = start_blocked(&ops[i]);
    }
    CHECK_EQ(weft_chan_close(ub), 0);
    for (int i = 0; i < 5; i++)
        CHECK_EQ(join(c[i]), WEFT_ECLOSED);

    /* Every blocked sender too; the buffered items still drain. */
    CHECK_EQ(send_int(full, 1, 0), 0);
    CHECK_EQ(send_int(full, 2, 0), 0);
    for (int i = 0; i < 5; i++) {
        ops[i] = (struct op){.kind = OP_SEND, .ch = full, .timeout_ms = -1};
        c[i] = start_blocked(&ops[i]);
    }
    CHECK_EQ(weft_chan_close(full), 0);
    for (int i = 0; i < 5; i++)
        CHECK_EQ(join(c[i]), WEFT_ECLOSED);
    CHECK_EQ(weft_chan_len(full), 2);
    CHECK_EQ(recv_int(full, 0), 1);
    CHECK_EQ(recv_int(full, 0), 2);
    CHECK_EQ(weft_chan_recv(full, &v, 0), WEFT_ECLOSED);

    CHECK_EQ(weft_chan_destroy(ch), 0);
    CHECK_EQ(weft_chan_destroy(ub), 0);
    CHECK_EQ(weft_chan_destroy(full), 0);
    return 0;
}

static void test_close(void **state)
{
    run(main_close, NULL);
}

/* ---- select ------------------------------------------------------------ */

static int main_select_ready(void *arg)
{
    weft_chan *a = chan(1), *b = chan(1), *full = chan(1), *ub = chan(0);
    int va = -1, vb = -1, out = 5;
    weft_chan_case cs[3];

    /* Only b is ready. */
    CHECK_EQ(send_int(b, 11, 0), 0);
    CHECK_EQ(send_int(full, 1, 0), 0);
    cs[0] = (weft_chan_case){a, WEFT_CHAN_RECV, &va, -7};
    cs[1] = (weft_chan_case){b, WEFT_CHAN_RECV, &vb, -7};
    cs[2] = (weft_chan_case){full, WEFT_CHAN_SEND, &out, -7};
    CHECK_EQ(weft_chan_select(cs, 3, 0), 1);
    CHECK_EQ(cs[1].result, 0);
    CHECK_EQ(vb, 11);
    CHECK_EQ(va, -1);
    CHECK_EQ(weft_chan_len(full), 1);

    /* Nothing ready. */
    CHECK_EQ(weft_chan_select(cs, 3, 0), -EAGAIN);

    /* A send case with room. */
    cs[1] = (weft_chan_case){b, WEFT_CHAN_SEND, &out, -7};
    CHECK_EQ(weft_chan_select(cs, 2, 0), 1);
    CHECK_EQ(cs[1].result, 0);
    CHECK_EQ(recv_int(b, 0), 5);

    /* Both ready: the first in the array wins, every time, and the other
     * is left alone. */
    for (int i = 0; i < 10; i++) {
        CHECK_EQ(send_int(a, 100 + i, 0), 0);
        CHECK_EQ(send_int(b, 200 + i, 0), 0);
        cs[0] = (weft_chan_case){a, WEFT_CHAN_RECV, &va, -7};
        cs[1] = (weft_chan_case){b, WEFT_CHAN_RECV, &vb, -7};
        CHECK_EQ(weft_chan_select(cs, 2, -1), 0);
        CHECK_EQ(va, 100 + i);
        CHECK_EQ(weft_chan_len(b), 1);
        CHECK_EQ(recv_int(b, 0), 200 + i);
    }

    /* A send case to a waiting receiver. */
    {
        struct op r = {.kind = OP_RECV, .ch = ub, .timeout_ms = -1};
        weft_co *c = start_blocked(&r);

        cs[0] = (weft_chan_case){a, WEFT_CHAN_RECV, &va, -7};
        cs[1] = (weft_chan_case){ub, WEFT_CHAN_SEND, &out, -7};
        out = 66;
        CHECK_EQ(weft_chan_select(cs, 2, 0), 1);
        CHECK_EQ(join(c), 0);
        CHECK_EQ(r.value, 66);
    }

    /* A NULL channel is never ready (Go's nil channel). */
    CHECK_EQ(send_int(b, 12, 0), 0);
    cs[0] = (weft_chan_case){NULL, WEFT_CHAN_RECV, NULL, -7};
    cs[1] = (weft_chan_case){b, WEFT_CHAN_RECV, &vb, -7};
    CHECK_EQ(weft_chan_select(cs, 2, 0), 1);
    CHECK_EQ(vb, 12);
    CHECK_EQ(weft_chan_select(cs, 1, 0), -EAGAIN);

    CHECK_EQ(weft_chan_destroy(a), 0);
    CHECK_EQ(weft_chan_destroy(b), 0);
    CHECK_EQ(weft_chan_destroy(full), 0);
    CHECK_EQ(weft_chan_destroy(ub), 0);
    return 0;
}

static void test_select_ready(void **state)
{
    run(main_select_ready, NULL);
}

static int main_select_wait(void *arg)
{
    weft_chan *a = chan(0), *b = chan(2), *c = chan(WEFT_CHAN_UNBOUNDED);
    int va = -1, vb = -1, vc = -1;
    weft_chan_case cs[3] = {
        {a, WEFT_CHAN_RECV, &va, -7},
        {b, WEFT_CHAN_RECV, &vb, -7},
        {c, WEFT_CHAN_RECV, &vc, -7},
    };
    struct op sel = {.kind = OP_SELECT, .cases = cs, .n = 3, .timeout_ms = -1};
    weft_co *co = start_blocked(&sel);

    /* b fires; the select is then gone from a and c. */
    CHECK_EQ(send_int(b, 20, 0), 0);
    CHECK_EQ(weft_chan_len(b), 0);
    CHECK_EQ(send_int(a, 10, 0), -EAGAIN);
    CHECK_EQ(send_int(c, 30, 0), 0);
    CHECK_EQ(send_int(b, 21, 0), 0);
    CHECK_EQ(join(co), 1);
    CHECK_EQ(cs[1].result, 0);
    CHECK_EQ(vb, 20);
    CHECK_EQ(va, -1);
    CHECK_EQ(vc, -1);
    CHECK_EQ(weft_chan_len(c), 1);
    CHECK_EQ(weft_chan_len(b), 1);
    CHECK_EQ(recv_int(c, 0), 30);
    CHECK_EQ(recv_int(b, 0), 21);

    /* A select waiting to send on two full channels: the one drained
     * takes its item, the other keeps what it had. */
    {
        weft_chan *f1 = chan(1), *f2 = chan(1);
        int o1 = 10, o2 = 20;
        weft_chan_case sc[2] = {
            {f1, WEFT_CHAN_SEND, &o1, -7},
            {f2, WEFT_CHAN_SEND, &o2, -7},
        };
        struct op s = {.kind = OP_SELECT, .cases = sc, .n = 2};

        CHECK_EQ(send_int(f1, 1, 0), 0);
        CHECK_EQ(send_int(f2, 2, 0), 0);
        s.timeout_ms = -1;
        co = start_blocked(&s);
        CHECK_EQ(recv_int(f2, 0), 2);
        CHECK_EQ(weft_chan_len(f2), 1);
        CHECK_EQ(recv_int(f1, 0), 1);
        CHECK_EQ(weft_chan_len(f1), 0);
        CHECK_EQ(join(co), 1);
        CHECK_EQ(recv_int(f2, 0), 20);
        CHECK_EQ(weft_chan_recv(f1, &(int){0}, 0), -EAGAIN);
        CHECK_EQ(weft_chan_destroy(f1), 0);
        CHECK_EQ(weft_chan_destroy(f2), 0);
    }

    /* Receive on a, send on b, waiting: a fires, so b gets nothing. */
    {
        weft_chan *x = chan(0), *y = chan(0);
        int vx = -1, oy = 5;
        weft_chan_case mc[2] = {
            {x, WEFT_CHAN_RECV, &vx, -7},
            {y, WEFT_CHAN_SEND, &oy, -7},
        };
        struct op s = {.kind = OP_SELECT, .cases = mc, .n = 2};

        s.timeout_ms = -1;
        co = start_blocked(&s);
        CHECK_EQ(send_int(x, 3, 0), 0);
        CHECK_EQ(weft_chan_recv(y, &(int){0}, 0), -EAGAIN);
        CHECK_EQ(join(co), 0);
        CHECK_EQ(vx, 3);
        CHECK_EQ(weft_chan_destroy(x), 0);
        CHECK_EQ(weft_chan_destroy(y), 0);
    }

    /* Two selects on one channel are served in FIFO order. */
    {
        int v1 = -1, v2 = -1, order = 0;
        weft_chan_case c1 = {a, WEFT_CHAN_RECV, &v1, -7};
        weft_chan_case c2 = {a, WEFT_CHAN_RECV, &v2, -7};
        struct op s1 = {.kind = OP_SELECT, .cases = &c1, .n = 1};
        struct op s2 = {.kind = OP_SELECT, .cases = &c2, .n = 1};
        weft_co *k1, *k2;

        s1.timeout_ms = s2.timeout_ms = -1;
        s1.order = s2.order = &order;
        k1 = start_blocked(&s1);
        k2 = start_blocked(&s2);
        CHECK_EQ(send_int(a, 1, 0), 0);
        CHECK_EQ(send_int(a, 2, 0), 0);
        CHECK_EQ(join(k2), 0);
        CHECK_EQ(join(k1), 0);
        CHECK_EQ(v1, 1);
        CHECK_EQ(v2, 2);
    }

    /* A waiting select with timeout. */
    {
        int64_t t0 = weft_now_ms();

        CHECK_EQ(weft_chan_select(cs, 3, 0), -EAGAIN);
        CHECK_EQ(weft_chan_select(cs, 3, 50), -ETIMEDOUT);
        CHECK_TIME(t0, 50);
        /* Nothing left behind on any of the channels. */
        CHECK_EQ(send_int(a, 1, 0), -EAGAIN);
        CHECK_EQ(weft_chan_len(b), 0);
        /* No cases: a sleep until the deadline. */
        t0 = weft_now_ms();
        CHECK_EQ(weft_chan_select(NULL, 0, 0), -EAGAIN);
        CHECK_EQ(weft_chan_select(NULL, 0, 20), -ETIMEDOUT);
        CHECK_TIME(t0, 20);
    }

    CHECK_EQ(weft_chan_destroy(a), 0);
    CHECK_EQ(weft_chan_destroy(b), 0);
    CHECK_EQ(weft_chan_destroy(c), 0);
    return 0;
}

static void test_select_wait(void **state)
{
    run(main_select_wait, NULL);
}

static int main_select_closed(void *arg)
{
    weft_chan *a = chan(0), *b = chan(0), *x = chan(1), *y = chan(1);
    int va = -1, vb = -1, vx = -1, oy = 1;
    weft_chan_case cs[2];

    /* A closed channel is ready both ways, with WEFT_ECLOSED. */
    CHECK_EQ(weft_chan_close(x), 0);
    CHECK_EQ(weft_chan_close(y), 0);
    cs[0] = (weft_chan_case){a, WEFT_CHAN_RECV, &va, -7};
    cs[1] = (weft_chan_case){x, WEFT_CHAN_RECV, &vx, -7};
    CHECK_EQ(weft_chan_select(cs, 2, -1), 1);
    CHECK_EQ(cs[1].result, WEFT_ECLOSED);
    cs[1] = (weft_chan_case){y, WEFT_CHAN_SEND, &oy, -7};
    CHECK_EQ(weft_chan_select(cs, 2, -1), 1);
    CHECK_EQ(cs[1].result, WEFT_ECLOSED);

    /* A waiting select woken by a close. */
    {
        weft_chan_case wc[2] = {
            {a, WEFT_CHAN_RECV, &va, -7},
            {b, WEFT_CHAN_RECV, &vb, -7},
        };
        struct op s = {.kind = OP_SELECT, .cases = wc, .n = 2};
        weft_co *co;

        s.timeout_ms = -1;
        co = start_blocked(&s);
        CHECK_EQ(weft_chan_close(b), 0);
        CHECK_EQ(join(co), 1);
        CHECK_EQ(wc[1].result, WEFT_ECLOSED);
        CHECK_EQ(send_int(a, 1, 0), -EAGAIN); /* gone from a */
    }

    CHECK_EQ(weft_chan_destroy(a), 0);
    CHECK_EQ(weft_chan_destroy(b), 0);
    CHECK_EQ(weft_chan_destroy(x), 0);
    CHECK_EQ(weft_chan_destroy(y), 0);
    return 0;
}

static void test_select_closed(void **state)
{
    run(main_select_closed, NULL);
}

/* ---- cancellation ------------------------------------------------------ */

static int cancel_self_fn(void *arg)
{
    weft_chan *ch = chan(2);
    weft_co_sem *sem = NULL;
    weft_co_event *ev = NULL;
    weft_co_wg *wg = NULL;
    int v = 0;

    CHECK_EQ(weft_co_sem_create(&sem, 1), 0);
    CHECK_EQ(weft_co_event_create(&ev), 0);
    CHECK_EQ(weft_co_wg_create(&wg), 0);
    CHECK_EQ(weft_co_cancel(weft_co_self()), 0);

    /* What completes at once still does. */
    CHECK_EQ(send_int(ch, 1, -1), 0);
    CHECK_EQ(recv_int(ch, -1), 1);
    CHECK_EQ(weft_co_sem_acquire(sem, -1), 0);
    CHECK_EQ(weft_co_event_set(ev), 0);
    CHECK_EQ(weft_co_event_wait(ev, -1), 0);
    CHECK_EQ(weft_co_wg_wait(wg, -1), 0);

    /* What would wait does not; timeout 0 still means "do not wait". */
    CHECK_EQ(weft_chan_recv(ch, &v, -1), -ECANCELED);
    CHECK_EQ(weft_chan_recv(ch, &v, 10), -ECANCELED);
    CHECK_EQ(weft_chan_recv(ch, &v, 0), -EAGAIN);
    CHECK_EQ(send_int(ch, 2, 0), 0);
    CHECK_EQ(send_int(ch, 3, 0), 0);
    CHECK_EQ(send_int(ch, 4, -1), -ECANCELED);
    CHECK_EQ(weft_co_sem_acquire(sem, -1), -ECANCELED);
    CHECK_EQ(weft_co_event_clear(ev), 0);
    CHECK_EQ(weft_co_event_wait(ev, -1), -ECANCELED);
    CHECK_EQ(weft_co_wg_add(wg, 1), 0);
    CHECK_EQ(weft_co_wg_wait(wg, -1), -ECANCELED);
    CHECK_EQ(weft_co_wg_done(wg), 0);

    CHECK_EQ(weft_chan_destroy(ch), 0);
    CHECK_EQ(weft_co_sem_destroy(sem), 0);
    CHECK_EQ(weft_co_event_destroy(ev), 0);
    CHECK_EQ(weft_co_wg_destroy(wg), 0);
    return 0;
}

static int main_cancel(void *arg)
{
    weft_chan *ch = chan(0), *full = chan(1);
    weft_co_sem *sem = NULL;
    weft_co_event *ev = NULL;
    weft_co_wg *wg = NULL;
    int v = -1, o = 9;
    weft_chan_case cs[2] = {
        {ch, WEFT_CHAN_RECV, &v, -7},
        {full, WEFT_CHAN_SEND, &o, -7},
    };
    struct op ops[6] = {
        {.kind = OP_RECV, .ch = ch},
        {.kind = OP_SEND, .ch = ch, .value = 1},
        {.kind = OP_SELECT, .cases = cs, .n = 2},
        {.kind = OP_SEM},
        {.kind = OP_EVENT},
        {.kind = OP_WG},
    };

    CHECK_EQ(weft_co_sem_create(&sem, 0), 0);
    CHECK_EQ(weft_co_event_create(&ev), 0);
    CHECK_EQ(weft_co_wg_create(&wg), 0);
    CHECK_EQ(weft_co_wg_add(wg, 1), 0);
    CHECK_EQ(send_int(full, 1, 0), 0);

    /* Every kind of waiter, blocked forever, then cancelled. */
    for (int i = 0; i < 6; i++) {
        weft_co *c;

        ops[i].sem = sem;
        ops[i].ev = ev;
        ops[i].wg = wg;
        ops[i].timeout_ms = -1;
        c = start_blocked(&ops[i]);
        CHECK_EQ(weft_co_cancel(c), 0);
        CHECK_EQ(join(c), -ECANCELED);
    }

    /* Nothing was left behind: everything still works. */
    CHECK_EQ(send_int(ch, 1, 0), -EAGAIN);
    CHECK_EQ(weft_chan_recv(ch, &v, 0), -EAGAIN);
    CHECK_EQ(weft_chan_len(full), 1);
    CHECK_EQ(recv_int(full, 0), 1);
    {
        struct op r = {.kind = OP_RECV, .ch = ch, .timeout_ms = -1};
        weft_co *c = start_blocked(&r);

        CHECK_EQ(send_int(ch, 5, 0), 0);
        CHECK_EQ(join(c), 0);
        CHECK_EQ(r.value, 5);
    }
    CHECK_EQ(weft_co_sem_release(sem), 0);
    CHECK_EQ(weft_co_sem_value(sem), 1);
    CHECK_EQ(weft_co_wg_done(wg), 0);

    /* A waiter cancelled from the middle of a FIFO: the others keep
     * their turns. */
    {
        struct op w[3];
        weft_co *c[3];
        int order = 0;

        CHECK_EQ(weft_co_sem_acquire(sem, 0), 0);
        for (int i = 0; i < 3; i++) {
            w[i] = (struct op){.kind = OP_SEM, .sem = sem, .timeout_ms = -1};
            w[i].order = &order;
            c[i] = start_blocked(&w[i]);
        }
        CHECK_EQ(weft_co_cancel(c[1]), 0);
        CHECK_EQ(join(c[1]), -ECANCELED);
        CHECK_EQ(weft_co_sem_release(sem), 0);
        CHECK_EQ(weft_co_sem_release(sem), 0);
        CHECK_EQ(join(c[2]), 0);
        CHECK_EQ(join(c[0]), 0);
        CHECK(w[0].seq < w[2].seq);
        CHECK_EQ(weft_co_sem_value(sem), 0);
        CHECK_EQ(weft_co_sem_release(sem), 0);
    }

    /* An operation completed before the cancel reached the coroutine
     * succeeds: the item is not lost. */
    {
        struct op r = {.kind = OP_RECV, .ch = ch, .timeout_ms = -1};
        struct op a = {.kind = OP_SEM, .sem = sem, .timeout_ms = -1};
        weft_co *c = start_blocked(&r), *d;

        CHECK_EQ(send_int(ch, 6, 0), 0);
        CHECK_EQ(weft_co_cancel(c), 0);
        CHECK_EQ(join(c), 0);
        CHECK_EQ(r.value, 6);

        /* Cancelled first, completed before it ran: the same. */
        r.started = r.finished = false;
        c = start_blocked(&r);
        CHECK_EQ(weft_co_cancel(c), 0);
        CHECK_EQ(send_int(ch, 7, 0), 0);
        CHECK_EQ(join(c), 0);
        CHECK_EQ(r.value, 7);

        CHECK_EQ(weft_co_sem_acquire(sem, 0), 0);
        d = start_blocked(&a);
        CHECK_EQ(weft_co_sem_release(sem), 0);
        CHECK_EQ(weft_co_cancel(d), 0);
        CHECK_EQ(join(d), 0); /* it holds the permit */
        CHECK_EQ(weft_co_sem_value(sem), 0);
    }

    /* Cancelled coroutines still complete what needs no wait. */
    CHECK_EQ(join(go(cancel_self_fn, NULL)), 0);

    CHECK_EQ(weft_chan_destroy(ch), 0);
    CHECK_EQ(weft_chan_destroy(full), 0);
    CHECK_EQ(weft_co_sem_destroy(sem), 0);
    CHECK_EQ(weft_co_event_destroy(ev), 0);
    CHECK_EQ(weft_co_wg_destroy(wg), 0);
    return 0;
}

static void test_cancel(void **state)
{
    run(main_cancel, NULL);
}

/* ---- many producers and consumers ------------------------------------- */

#define MP_PRODUCERS 50
#define MP_CONSUMERS 50
#define MP_EACH      2000
#define MP_ITEMS     (MP_PRODUCERS * MP_EACH)

static struct mp {
    weft_chan *ch[2]; /* producers use ch[p % nch] */
    int nch;
    weft_co_wg *wg; /* producers still running */
    unsigned char seen[MP_ITEMS];
    int got[MP_CONSUMERS]; /* items each consumer received */
    int next_p, next_c;    /* ids handed out */
} g_mp;

static int producer_fn(void *arg)
{
    int p = g_mp.next_p++;
    weft_chan *ch = g_mp.ch[p % g_mp.nch];

    for (int k = 0; k < MP_EACH; k++) {
        CHECK_EQ(send_int(ch, p * MP_EACH + k, -1), 0);
        if (k % 7 == 0)
            CHECK_EQ(weft_co_yield(), 0);
    }
    CHECK_EQ(weft_co_wg_done(g_mp.wg), 0);
    return 0;
}

/* Receive until every channel is closed: by select over all of them,
 * taking a closed one out of the select by setting its case to NULL. */
static int consumer_fn(void *arg)
{
    int me = g_mp.next_c++;
    weft_chan_case cs[2];
    int v = -1, open = g_mp.nch;

    for (int i = 0; i < g_mp.nch; i++)
        cs[i] = (weft_chan_case){g_mp.ch[i], WEFT_CHAN_RECV, &v, 0};
    while (open > 0) {
        int i = weft_chan_select(cs, (size_t)g_mp.nch, -1);

        CHECK(i >= 0 && i < g_mp.nch);
        if (i < 0)
            return i;
        if (cs[i].result == WEFT_ECLOSED) {
            cs[i].ch = NULL;
            open--;
            continue;
        }
        CHECK_EQ(cs[i].result, 0);
        CHECK(v >= 0 && v < MP_ITEMS);
        if (v < 0 || v >= MP_ITEMS)
            continue;
        g_mp.seen[v]++;
        g_mp.got[me]++;
        if (v % 5 == 0)
            CHECK_EQ(weft_co_yield(), 0);
    }
    return 0;
}

static int main_mpmc(void *arg)
{
    /* Unbuffered, a small buffer, unbounded. */
    static const size_t caps[] = {0, 16, WEFT_CHAN_UNBOUNDED};
    weft_co *cons[MP_CONSUMERS];
    long total = 0;

    for (int nch = 1; nch <= 2; nch++) {
        for (size_t t = 0; t < sizeof caps / sizeof caps[0]; t++) {
            memset(&g_mp, 0, sizeof g_mp);
            g_mp.nch = nch;
            for (int i = 0; i < nch; i++)
                g_mp.ch[i] = chan(caps[t]);
            CHECK_EQ(weft_co_wg_create(&g_mp.wg), 0);
            CHECK_EQ(weft_co_wg_add(g_mp.wg, MP_PRODUCERS), 0);
            for (int i = 0; i < MP_CONSUMERS; i++)
                cons[i] = go(consumer_fn, NULL);
            for (int i = 0; i < MP_PRODUCERS; i++)
                weft_co_release(go(producer_fn, NULL));
            CHECK_EQ(weft_co_wg_wait(g_mp.wg, -1), 0);
            for (int i = 0; i < nch; i++)
                CHECK_EQ(weft_chan_close(g_mp.ch[i]), 0);
            total = 0;
            for (int i = 0; i < MP_CONSUMERS; i++) {
                CHECK_EQ(join(cons[i]), 0);
                total += g_mp.got[i];
            }
            CHECK_EQ(total, MP_ITEMS);
            for (int i = 0; i < MP_ITEMS; i++) {
                if (g_mp.seen[i] != 1) {
                    CHECK_EQ(g_mp.seen[i], 1);
                    break;
                }
            }
            for (int i = 0; i < nch; i++)
                CHECK_EQ(weft_chan_destroy(g_mp.ch[i]), 0);
            CHECK_EQ(weft_co_wg_destroy(g_mp.wg), 0);
        }
    }
    return 0;
}

static void test_many_producers_consumers(void **state)
{
    run(main_mpmc, NULL);
}

/* ---- semaphore, event, wait group ------------------------------------ */

static struct {
    weft_co_sem *sem;
    int active, max_active, finished;
} g_sem;

static int limited_fn(void *arg)
{
    CHECK_EQ(weft_co_sem_acquire(g_sem.sem, -1), 0);
    g_sem.active++;
    if (g_sem.active > g_sem.max_active)
        g_sem.max_active = g_sem.active;
    CHECK_EQ(weft_co_sleep(5), 0);
    g_sem.active--;
    g_sem.finished++;
    CHECK_EQ(weft_co_sem_release(g_sem.sem), 0);
    return 0;
}

static int main_sem(void *arg)
{
    weft_co *c[20];
    weft_co_sem *s = NULL;
    int64_t t0;

    memset(&g_sem, 0, sizeof g_sem);
    CHECK_EQ(weft_co_sem_create(&g_sem.sem, 4), 0);
    t0 = weft_now_ms();
    for (int i = 0; i < 20; i++)
        c[i] = go(limited_fn, NULL);
    for (int i = 0; i < 20; i++)
        CHECK_EQ(join(c[i]), 0);
    CHECK_EQ(g_sem.finished, 20);
    CHECK_EQ(g_sem.max_active, 4);
    CHECK(weft_now_ms() - t0 >= 5 * 5 - 1); /* five rounds of four */
    CHECK_EQ(weft_co_sem_value(g_sem.sem), 4);
    CHECK_EQ(weft_co_sem_destroy(g_sem.sem), 0);

    /* Timeouts and FIFO order. */
    CHECK_EQ(weft_co_sem_create(&s, 0), 0);
    CHECK_EQ(weft_co_sem_acquire(s, 0), -EAGAIN);
    t0 = weft_now_ms();
    CHECK_EQ(weft_co_sem_acquire(s, 30), -ETIMEDOUT);
    CHECK_TIME(t0, 30);
    {
        struct op w[3];
        int order = 0;

        for (int i = 0; i < 3; i++) {
            w[i] = (struct op){.kind = OP_SEM, .sem = s, .timeout_ms = -1};
            w[i].order = &order;
            c[i] = start_blocked(&w[i]);
        }
        for (int i = 0; i < 3; i++)
            CHECK_EQ(weft_co_sem_release(s), 0);
        CHECK_EQ(weft_co_sem_value(s), 0); /* handed over */
        for (int i = 0; i < 3; i++) {
            CHECK_EQ(join(c[i]), 0);
            CHECK_EQ(w[i].seq, i);
        }
    }
    CHECK_EQ(weft_co_sem_destroy(s), 0);

    CHECK_EQ(weft_co_sem_create(&s, INT_MAX), 0);
    CHECK_EQ(weft_co_sem_value(s), INT_MAX);
    CHECK_EQ(weft_co_sem_release(s), -EOVERFLOW);
    CHECK_EQ(weft_co_sem_destroy(s), 0);
    CHECK_EQ(weft_co_sem_create(&s, (unsigned)INT_MAX + 1), -EINVAL);
    CHECK(s == NULL);
    return 0;
}

static void test_semaphore(void **state)
{
    run(main_sem, NULL);
}

static int main_event(void *arg)
{
    weft_co_event *e = NULL;
    struct op w[10];
    weft_co *c[10];
    int64_t t0;

    CHECK_EQ(weft_co_event_create(&e), 0);
    CHECK_EQ(weft_co_event_is_set(e), 0);
    for (int i = 0; i < 10; i++) {
        w[i] = (struct op){.kind = OP_EVENT, .ev = e, .timeout_ms = -1};
        c[i] = start_blocked(&w[i]);
    }
    CHECK_EQ(weft_co_yield(), 0);
    for (int i = 0; i < 10; i++)
        CHECK(!w[i].finished);
    CHECK_EQ(weft_co_event_set(e), 0);
    CHECK_EQ(weft_co_event_is_set(e), 1);
    for (int i = 0; i < 10; i++)
        CHECK_EQ(join(c[i]), 0);
    CHECK_EQ(weft_co_event_wait(e, 0), 0);
    CHECK_EQ(weft_co_event_wait(e, -1), 0);

    CHECK_EQ(weft_co_event_clear(e), 0);
    CHECK_EQ(weft_co_event_is_set(e), 0);
    CHECK_EQ(weft_co_event_wait(e, 0), -EAGAIN);
    t0 = weft_now_ms();
    CHECK_EQ(weft_co_event_wait(e, 30), -ETIMEDOUT);
    CHECK_TIME(t0, 30);

    /* Set then cleared before the waiters run: they were released. */
    for (int i = 0; i < 3; i++) {
        w[i] = (struct op){.kind = OP_EVENT, .ev = e, .timeout_ms = -1};
        c[i] = start_blocked(&w[i]);
    }
    CHECK_EQ(weft_co_event_set(e), 0);
    CHECK_EQ(weft_co_event_clear(e), 0);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(join(c[i]), 0);
    CHECK_EQ(weft_co_event_destroy(e), 0);
    return 0;
}

static void test_event(void **state)
{
    run(main_event, NULL);
}

static struct {
    weft_co_wg *wg;
    int finished;
} g_wg;

static int wg_worker_fn(void *arg)
{
    CHECK_EQ(weft_co_sleep((int)(intptr_t)arg), 0);
    g_wg.finished++;
    CHECK_EQ(weft_co_wg_done(g_wg.wg), 0);
    return 0;
}

static int main_wg(void *arg)
{
    weft_co_wg *wg = NULL;
    struct op w[3];
    weft_co *c[3];
    int64_t t0;

    memset(&g_wg, 0, sizeof g_wg);
    CHECK_EQ(weft_co_wg_create(&wg), 0);
    g_wg.wg = wg;
    CHECK_EQ(weft_co_wg_wait(wg, 0), 0); /* count 0: at once */
    CHECK_EQ(weft_co_wg_wait(wg, -1), 0);

    CHECK_EQ(weft_co_wg_add(wg, 10), 0);
    for (int i = 0; i < 10; i++)
        weft_co_release(go(wg_worker_fn, (void *)(intptr_t)(i * 2)));
    CHECK_EQ(weft_co_wg_wait(wg, -1), 0);
    CHECK_EQ(g_wg.finished, 10);

    /* Every waiter wakes when the count reaches 0. */
    CHECK_EQ(weft_co_wg_add(wg, 2), 0);
    for (int i = 0; i < 3; i++) {
        w[i] = (struct op){.kind = OP_WG, .wg = wg, .timeout_ms = -1};
        c[i] = start_blocked(&w[i]);
    }
    CHECK_EQ(weft_co_wg_done(wg), 0);
    CHECK_EQ(weft_co_yield(), 0);
    for (int i = 0; i < 3; i++)
        CHECK(!w[i].finished);
    CHECK_EQ(weft_co_wg_add(wg, -1), 0);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(join(c[i]), 0);

    /* Timeouts and bounds. */
    CHECK_EQ(weft_co_wg_add(wg, 1), 0);
    CHECK_EQ(weft_co_wg_wait(wg, 0), -EAGAIN);
    t0 = weft_now_ms();
    CHECK_EQ(weft_co_wg_wait(wg, 30), -ETIMEDOUT);
    CHECK_TIME(t0, 30);
    CHECK_EQ(weft_co_wg_add(wg, -2), -EINVAL);
    CHECK_EQ(weft_co_wg_done(wg), 0);
    CHECK_EQ(weft_co_wg_done(wg), -EOVERFLOW);
    CHECK_EQ(weft_co_wg_add(wg, -1), -EINVAL);
    CHECK_EQ(weft_co_wg_add(wg, 0), 0);
    CHECK_EQ(weft_co_wg_add(wg, INT_MAX), 0);
    CHECK_EQ(weft_co_wg_add(wg, 1), -EOVERFLOW);
    CHECK_EQ(weft_co_wg_add(wg, -INT_MAX), 0);
    CHECK_EQ(weft_co_wg_wait(wg, 0), 0);
    CHECK_EQ(weft_co_wg_destroy(wg), 0);
    return 0;
}

static void test_wait_group(void **state)
{
    run(main_wg, NULL);
}

/* ---- outside a scheduler ---------------------------------------------- */

static void test_outside_scheduler(void **state)
{
    weft_chan *ub = NULL, *b = NULL, *inf = NULL;
    weft_co_sem *s = NULL;
    weft_co_event *e = NULL;
    weft_co_wg *wg = NULL;
    int v = 3;
    weft_chan_case cs[1];

    assert_int_equal(weft_chan_create(&ub, sizeof v, 0), 0);
    assert_int_equal(weft_chan_create(&b, sizeof v, 1), 0);
    assert_int_equal(weft_chan_create(&inf, sizeof v, WEFT_CHAN_UNBOUNDED), 0);

    assert_int_equal(weft_chan_send(ub, &v, 0), -EAGAIN);
    assert_int_equal(weft_chan_send(ub, &v, -1), -EPERM);
    assert_int_equal(weft_chan_send(ub, &v, 10), -EPERM);
    assert_int_equal(weft_chan_recv(ub, &v, -1), -EPERM);

    assert_int_equal(weft_chan_send(b, &v, -1), 0);
    assert_int_equal(weft_chan_send(b, &v, -1), -EPERM);
    v = 0;
    assert_int_equal(weft_chan_recv(b, &v, -1), 0);
    assert_int_equal(v, 3);
    assert_int_equal(weft_chan_recv(b, &v, -1), -EPERM);
    cs[0] = (weft_chan_case){b, WEFT_CHAN_RECV, &v, 0};
    assert_int_equal(weft_chan_select(cs, 1, -1), -EPERM);
    assert_int_equal(weft_chan_select(cs, 1, 0), -EAGAIN);
    assert_int_equal(weft_chan_close(b), 0);
    assert_int_equal(weft_chan_recv(b, &v, -1), WEFT_ECLOSED);
    assert_int_equal(weft_chan_select(cs, 1, -1), 0);
    assert_int_equal(cs[0].result, WEFT_ECLOSED);

    for (int i = 0; i < 1000; i++)
        assert_int_equal(weft_chan_send(inf, &i, -1), 0);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(weft_chan_recv(inf, &v, -1), 0);
        assert_int_equal(v, i);
    }

    assert_int_equal(weft_co_sem_create(&s, 1), 0);
    assert_int_equal(weft_co_sem_acquire(s, -1), 0);
    assert_int_equal(weft_co_sem_acquire(s, -1), -EPERM);
    assert_int_equal(weft_co_sem_acquire(s, 0), -EAGAIN);
    assert_int_equal(weft_co_sem_release(s), 0);
    assert_int_equal(weft_co_event_create(&e), 0);
    assert_int_equal(weft_co_event_wait(e, -1), -EPERM);
    assert_int_equal(weft_co_event_set(e), 0);
    assert_int_equal(weft_co_event_wait(e, -1), 0);
    assert_int_equal(weft_co_wg_create(&wg), 0);
    assert_int_equal(weft_co_wg_wait(wg, -1), 0);
    assert_int_equal(weft_co_wg_add(wg, 1), 0);
    assert_int_equal(weft_co_wg_wait(wg, -1), -EPERM);
    assert_int_equal(weft_co_wg_done(wg), 0);

    assert_int_equal(weft_chan_destroy(ub), 0);
    assert_int_equal(weft_chan_destroy(b), 0);
    assert_int_equal(weft_chan_destroy(inf), 0);
    assert_int_equal(weft_co_sem_destroy(s), 0);
    assert_int_equal(weft_co_event_destroy(e), 0);
    assert_int_equal(weft_co_wg_destroy(wg), 0);
}

/* ---- destroy while waited on ------------------------------------------ */

static int main_destroy_busy(void *arg)
{
    weft_chan *a = chan(0), *b = chan(1);
    weft_co_sem *s = NULL;
    weft_co_event *e = NULL;
    weft_co_wg *wg = NULL;
    int va = -1, vb = -1;
    weft_co *c;

    /* A blocked receiver, then a blocked sender. */
    {
        struct op r = {.kind = OP_RECV, .ch = a, .timeout_ms = -1};
        struct op w = {.kind = OP_SEND, .ch = b, .timeout_ms = -1};

        c = start_blocked(&r);
        CHECK_EQ(weft_chan_destroy(a), -EBUSY);
        CHECK_EQ(send_int(a, 1, 0), 0);
        CHECK_EQ(join(c), 0);
        CHECK_EQ(send_int(b, 1, 0), 0);
        c = start_blocked(&w);
        CHECK_EQ(weft_chan_destroy(b), -EBUSY);
        CHECK_EQ(recv_int(b, 0), 1);
        CHECK_EQ(join(c), 0);
        CHECK_EQ(recv_int(b, 0), 0);
    }

    /* A select busies every channel it waits on, until it fires. */
    {
        weft_chan_case cs[2] = {
            {a, WEFT_CHAN_RECV, &va, -7},
            {b, WEFT_CHAN_RECV, &vb, -7},
        };
        struct op sel = {.kind = OP_SELECT, .cases = cs, .n = 2};

        sel.timeout_ms = -1;
        c = start_blocked(&sel);
        CHECK_EQ(weft_chan_destroy(a), -EBUSY);
        CHECK_EQ(weft_chan_destroy(b), -EBUSY);
        CHECK_EQ(send_int(b, 2, 0), 0);
        /* The waker may destroy at once: the woken never looks back. */
        CHECK_EQ(weft_chan_destroy(b), 0);
        CHECK_EQ(weft_chan_destroy(a), 0);
        CHECK_EQ(join(c), 1);
        CHECK_EQ(vb, 2);
    }

    /* The same for the synchronization objects. */
    {
        struct op ws = {.kind = OP_SEM, .timeout_ms = -1};
        struct op we = {.kind = OP_EVENT, .timeout_ms = -1};
        struct op ww = {.kind = OP_WG, .timeout_ms = -1};
        weft_co *k[3];

        CHECK_EQ(weft_co_sem_create(&s, 0), 0);
        CHECK_EQ(weft_co_event_create(&e), 0);
        CHECK_EQ(weft_co_wg_create(&wg), 0);
        CHECK_EQ(weft_co_wg_add(wg, 1), 0);
        ws.sem = s;
        we.ev = e;
        ww.wg = wg;
        k[0] = start_blocked(&ws);
        k[1] = start_blocked(&we);
        k[2] = start_blocked(&ww);
        CHECK_EQ(weft_co_sem_destroy(s), -EBUSY);
        CHECK_EQ(weft_co_event_destroy(e), -EBUSY);
        CHECK_EQ(weft_co_wg_destroy(wg), -EBUSY);
        CHECK_EQ(weft_co_sem_release(s), 0);
        CHECK_EQ(weft_co_event_set(e), 0);
        CHECK_EQ(weft_co_wg_done(wg), 0);
        CHECK_EQ(weft_co_sem_destroy(s), 0);
        CHECK_EQ(weft_co_event_destroy(e), 0);
        CHECK_EQ(weft_co_wg_destroy(wg), 0);
        for (int i = 0; i < 3; i++)
            CHECK_EQ(join(k[i]), 0);
    }
    return 0;
}

static void test_destroy_busy(void **state)
{
    run(main_destroy_busy, NULL);
}

/* ---- bad input --------------------------------------------------------- */

static void test_bad_input(void **state)
{
    weft_chan *ch = NULL;
    int v = 0;
    weft_chan_case cs[2];

    assert_int_equal(weft_chan_create(NULL, 4, 0), -EINVAL);
    ch = (weft_chan *)&v; /* cleared on failure */
    assert_int_equal(weft_chan_create(&ch, 0, 0), -EINVAL);
    assert_null(ch);
    assert_int_equal(weft_chan_create(&ch, SIZE_MAX / 2, 4), -ENOMEM);
    assert_null(ch);
    assert_int_equal(weft_chan_send(NULL, &v, 0), -EINVAL);
    assert_int_equal(weft_chan_recv(NULL, &v, 0), -EINVAL);
    assert_int_equal(weft_chan_close(NULL), -EINVAL);
    assert_int_equal(weft_chan_len(NULL), 0);
    assert_int_equal(weft_chan_destroy(NULL), 0);

    assert_int_equal(weft_chan_create(&ch, sizeof v, 1), 0);
    assert_int_equal(weft_chan_send(ch, NULL, 0), -EINVAL);
    assert_int_equal(weft_chan_recv(ch, NULL, 0), -EINVAL);
    assert_int_equal(weft_chan_select(NULL, 1, 0), -EINVAL);
    cs[0] = (weft_chan_case){ch, 0, &v, 0};
    assert_int_equal(weft_chan_select(cs, 1, 0), -EINVAL);
    cs[0] = (weft_chan_case){ch, WEFT_CHAN_SEND, NULL, 0};
    assert_int_equal(weft_chan_select(cs, 1, 0), -EINVAL);
    /* A bad case anywhere fails the select before anything happens. */
    cs[0] = (weft_chan_case){ch, WEFT_CHAN_SEND, &v, 0};
    cs[1] = (weft_chan_case){ch, 3, &v, 0};
    assert_int_equal(weft_chan_select(cs, 2, 0), -EINVAL);
    assert_int_equal(weft_chan_len(ch), 0);
    assert_int_equal(weft_chan_destroy(ch), 0);

    assert_int_equal(weft_co_sem_create(NULL, 1), -EINVAL);
    assert_int_equal(weft_co_sem_acquire(NULL, 0), -EINVAL);
    assert_int_equal(weft_co_sem_release(NULL), -EINVAL);
    assert_int_equal(weft_co_sem_value(NULL), -EINVAL);
    assert_int_equal(weft_co_sem_destroy(NULL), 0);
    assert_int_equal(weft_co_event_create(NULL), -EINVAL);
    assert_int_equal(weft_co_event_set(NULL), -EINVAL);
    assert_int_equal(weft_co_event_clear(NULL), -EINVAL);
    assert_int_equal(weft_co_event_is_set(NULL), -EINVAL);
    assert_int_equal(weft_co_event_wait(NULL, 0), -EINVAL);
    assert_int_equal(weft_co_event_destroy(NULL), 0);
    assert_int_equal(weft_co_wg_create(NULL), -EINVAL);
    assert_int_equal(weft_co_wg_add(NULL, 1), -EINVAL);
    assert_int_equal(weft_co_wg_done(NULL), -EINVAL);
    assert_int_equal(weft_co_wg_wait(NULL, 0), -EINVAL);
    assert_int_equal(weft_co_wg_destroy(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unbuffered_rendezvous),
        cmocka_unit_test(test_buffered_fifo_and_full),
        cmocka_unit_test(test_unbounded_never_blocks),
        cmocka_unit_test(test_timeouts),
        cmocka_unit_test(test_close),
        cmocka_unit_test(test_select_ready),
        cmocka_unit_test(test_select_wait),
        cmocka_unit_test(test_select_closed),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_many_producers_consumers),
        cmocka_unit_test(test_semaphore),
        cmocka_unit_test(test_event),
        cmocka_unit_test(test_wait_group),
        cmocka_unit_test(test_outside_scheduler),
        cmocka_unit_test(test_destroy_busy),
        cmocka_unit_test(test_bad_input),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
