/* queue_int.h - one weft_queue API, two implementations: ring.c, a FIFO
 * ring with two robust locks and futex waits - in shared memory for
 * processes, or on the heap for the threads of one process (there it grows
 * when full unless a byte bound was given) - and local.c for the other
 * queues between threads (LIFO, priority, and FIFO with a byte bound: heap
 * nodes, a mutex and condition variables). queue.c checks the arguments
 * common to both and dispatches on the head every queue object starts
 * with. */
#ifndef WEFT_QUEUE_INT_H
#define WEFT_QUEUE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/queue.h>

#define WEFT__QUEUE_MAGIC 0x77517565u /* "wQue" */

/* The first member of both implementations' structures. */
struct weft__queue_head {
    uint32_t magic;
    uint8_t shared; /* in shared memory (processes) */
    uint8_t kind;   /* enum weft_queue_kind */
    uint8_t joinable;
    uint8_t ring; /* ring.c (1), local.c (0) or WEFT__QUEUE_REDIS */
};

/* The opts with defaults applied and checked by queue.c: kind valid for
 * the placement, max_bytes set (never 0 for shared), max_msg set (never 0,
 * at most what max_bytes can hold). */

/* ---- local.c ------------------------------------------------------------- */

int weft__lq_create(weft_queue **out, const weft_queue_opts *o);
int weft__lq_put(weft_queue *q, int prio, const void *msg, size_t len,
                 int timeout_ms);
int weft__lq_get(weft_queue *q, void *buf, size_t cap, bool peek_len,
                 int timeout_ms);
int weft__lq_close(weft_queue *q);
int weft__lq_closed(weft_queue *q);
int weft__lq_qsize(weft_queue *q);
int weft__lq_full(weft_queue *q);
int weft__lq_task_done(weft_queue *q);
int weft__lq_join(weft_queue *q, int timeout_ms);
int weft__lq_destroy(weft_queue *q);

/* ---- ring.c -------------------------------------------------------------- */

int weft__rq_create(weft_queue **out, weft_arena *where,
                    const weft_queue_opts *o);
int weft__rq_put(weft_queue *q, const void *msg, size_t len, int timeout_ms);
int weft__rq_get(weft_queue *q, void *buf, size_t cap, bool peek_len,
                 int timeout_ms);
int weft__rq_reserve(weft_queue *q, size_t len, void **where, int timeout_ms);
int weft__rq_commit(weft_queue *q, bool keep);
int weft__rq_peek(weft_queue *q, const void **msg, int timeout_ms);
int weft__rq_release(weft_queue *q, bool consume);
int weft__rq_close(weft_queue *q);
int weft__rq_closed(weft_queue *q);
int weft__rq_qsize(weft_queue *q);
int weft__rq_full(weft_queue *q);
int weft__rq_task_done(weft_queue *q);
int weft__rq_join(weft_queue *q, int timeout_ms);
int weft__rq_destroy(weft_queue *q);

/* ---- src/redis/queue.c: a queue in Redis (weft/redis.h) ----------------- */

#define WEFT__QUEUE_REDIS 2 /* head.ring of a Redis queue */

int weft__redisq_put(weft_queue *q, const void *msg, size_t len,
                     int timeout_ms);
int weft__redisq_get(weft_queue *q, void *buf, size_t cap, bool peek_len,
                     int timeout_ms);
int weft__redisq_close(weft_queue *q);
int weft__redisq_closed(weft_queue *q);
int weft__redisq_qsize(weft_queue *q);
int weft__redisq_full(weft_queue *q);
int weft__redisq_task_done(weft_queue *q);
int weft__redisq_join(weft_queue *q, int timeout_ms);
int weft__redisq_destroy(weft_queue *q);

#endif
