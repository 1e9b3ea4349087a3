/* queue.c - the public weft_queue calls: argument checks common to both
 * implementations, then dispatch to local.c (threads) or ring.c
 * (processes) - or to src/redis/queue.c for a queue opened with
 * weft_redis_queue_open(). See queue_int.h. */
#include <errno.h>

#include "queue/queue_int.h"

#define HEAD(q)  ((struct weft__queue_head *)(void *)(q))
#define REDIS(q) (HEAD(q)->ring == WEFT__QUEUE_REDIS)

/* The default ring of a shared queue. */
#define DEFAULT_SHARED_BYTES ((size_t)1 << 20)

static bool valid(const weft_queue *q)
{
    return q && HEAD(q)->magic == WEFT__QUEUE_MAGIC;
}

int weft_queue_create(weft_queue **out, weft_arena *where,
                      const weft_queue_opts *opts)
{
    weft_queue_opts o = {0};

    if (!out)
        return -EINVAL;
    *out = NULL;
    if (opts)
        o = *opts;
    if (o.kind < WEFT_QUEUE_FIFO || o.kind > WEFT_QUEUE_PRIORITY)
        return -EINVAL;
    /* Between threads, a FIFO without a byte bound is a growable ring:
     * producer and consumer threads then never share a lock. A byte bound
     * counts message bytes exactly, as local.c does. */
    if (!where && (o.kind != WEFT_QUEUE_FIFO || o.max_bytes))
        return weft__lq_create(out, &o);
    if (!where)
        return weft__rq_create(out, NULL, &o);
    if (o.kind != WEFT_QUEUE_FIFO)
        return -EINVAL;
    if (o.max_bytes == 0)
        o.max_bytes = DEFAULT_SHARED_BYTES;
    return weft__rq_create(out, where, &o);
}

int weft_queue_put(weft_queue *q, const void *msg, size_t len, int timeout_ms)
{
    if (!valid(q) || !msg || len == 0)
        return -EINVAL;
    if (REDIS(q))
        return weft__redisq_put(q, msg, len, timeout_ms);
    if (HEAD(q)->ring)
        return weft__rq_put(q, msg, len, timeout_ms);
    return weft__lq_put(q, 0, msg, len, timeout_ms);
}

int weft_queue_put_prio(weft_queue *q, int priority, const void *msg,
                        size_t len, int timeout_ms)
{
    if (!valid(q) || !msg || len == 0 || HEAD(q)->kind != WEFT_QUEUE_PRIORITY)
        return -EINVAL;
    return weft__lq_put(q, priority, msg, len, timeout_ms);
}

int weft_queue_get(weft_queue *q, void *buf, size_t cap, int timeout_ms)
{
    if (!valid(q) || (!buf && cap))
        return -EINVAL;
    if (REDIS(q))
        return weft__redisq_get(q, buf, cap, false, timeout_ms);
    if (HEAD(q)->ring)
        return weft__rq_get(q, buf, cap, false, timeout_ms);
    return weft__lq_get(q, buf, cap, false, timeout_ms);
}

int weft_queue_next_len(weft_queue *q, int timeout_ms)
{
    if (!valid(q))
        return -EINVAL;
    if (REDIS(q))
        return weft__redisq_get(q, NULL, 0, true, timeout_ms);
    if (HEAD(q)->ring)
        return weft__rq_get(q, NULL, 0, true, timeout_ms);
    return weft__lq_get(q, NULL, 0, true, timeout_ms);
}

int weft_queue_reserve(weft_queue *q, size_t len, void **where, int timeout_ms)
{
    if (!valid(q) || !HEAD(q)->shared || !where || len == 0)
        return -EINVAL;
    return weft__rq_reserve(q, len, where, timeout_ms);
}

int weft_queue_commit(weft_queue *q)
{
    if (!valid(q) || !HEAD(q)->shared)
        return -EINVAL;
    return weft__rq_commit(q, true);
}

int weft_queue_cancel(weft_queue *q)
{
    if (!valid(q) || !HEAD(q)->shared)
        return -EINVAL;
    return weft__rq_commit(q, false);
}

int weft_queue_peek(weft_queue *q, const void **msg, int timeout_ms)
{
    if (!valid(q) || !HEAD(q)->shared || !msg)
        return -EINVAL;
    return weft__rq_peek(q, msg, timeout_ms);
}

int weft_queue_release(weft_queue *q)
{
    if (!valid(q) || !HEAD(q)->shared)
        return -EINVAL;
    return weft__rq_release(q, true);
}

int weft_queue_unpeek(weft_queue *q)
{
    if (!valid(q) || !HEAD(q)->shared)
        return -EINVAL;
    return weft__rq_release(q, false);
}

int weft_queue_close(weft_queue *q)
{
    if (!valid(q))
        return -EINVAL;
    if (REDIS(q))
        return weft__redisq_close(q);
    return HEAD(q)->ring ? weft__rq_close(q) : weft__lq_close(q);
}

int weft_queue_closed(weft_queue *q)
{
    if (!valid(q))
        return -EINVAL;
    if (REDIS(q))
        return weft__redisq_closed(q);
    return HEAD(q)->ring ? weft__rq_closed(q) : weft__lq_closed(q);
}

int weft_queue_qsize(weft_queue *q)
{
    if (!valid(q))
        return -EINVAL;
    if (REDIS(q))
        return weft__redisq_qsize(q);
    return HEAD(q)->ring ? weft__rq_qsize(q) : weft__lq_qsize(q);
}

int weft_queue_empty(weft_queue *q)
{
    int n = weft_queue_qsize(q);

    return n < 0 ? n : n == 0;
}

int weft_queue_full(weft_queue *q)
{
    if (!valid(q))
        return -EINVAL;
    if (REDIS(q))
        return weft__redisq_full(q);
    return HEAD(q)->ring ? weft__rq_full(q) : weft__lq_full(q);
}

int weft_queue_task_done(weft_queue *q)
{
    if (!valid(q) || !HEAD(q)->joinable)
        return -EINVAL;
    if (REDIS(q))
        return weft__redisq_task_done(q);
    return HEAD(q)->ring ? weft__rq_task_done(q) : weft__lq_task_done(q);
}

int weft_queue_join(weft_queue *q, int timeout_ms)
{
    if (!valid(q) || !HEAD(q)->joinable)
        return -EINVAL;
    if (REDIS(q))
        return weft__redisq_join(q, timeout_ms);
    return HEAD(q)->ring ? weft__rq_join(q, timeout_ms)
                         : weft__lq_join(q, timeout_ms);
}

int weft_queue_destroy(weft_queue *q)
{
    if (!q)
        return 0;
    if (!valid(q))
        return -EINVAL;
    if (REDIS(q))
        return weft__redisq_destroy(q);
    return HEAD(q)->ring ? weft__rq_destroy(q) : weft__lq_destroy(q);
}
