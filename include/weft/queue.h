/* weft/queue.h - message queues: Python's multiprocessing.Queue and
 * JoinableQueue across processes, and queue.Queue / LifoQueue /
 * PriorityQueue between threads, behind one API.
 *
 * Model
 *   A queue carries byte messages of 1 .. max_msg bytes (copied in on put,
 *   copied out on get). Where it lives decides who can use it (see
 *   weft/shm.h): placement NULL is a queue for the threads of this process;
 *   WEFT_SHARED or an arena makes a queue in shared memory that processes
 *   use at once - created before fork, or published in a named arena with
 *   weft_arena_set_root() and found by unrelated processes with
 *   weft_arena_open() + weft_arena_root().
 *
 *   Kinds: FIFO (both placements), LIFO and PRIORITY (threads only;
 *   -EINVAL for a shared placement). A priority queue hands out the lowest
 *   priority number first, and equal priorities in the order they were put.
 *
 *   Bounds: max_items (0: none) and max_bytes, the room for message data
 *   (a shared queue is a ring of that many bytes, default 1 MiB; a thread
 *   queue has no byte bound unless one is given - a FIFO between threads
 *   then grows as needed). A put waits while the
 *   queue is full (timeout convention of weft/core.h); a message that could
 *   never fit - larger than max_bytes allows, or than max_msg - is refused
 *   at once with -EMSGSIZE, never left waiting. Zero-length messages are
 *   refused (-EINVAL): an empty get is never ambiguous.
 *
 *   Close: any process may close the queue (usually the producers, when
 *   done). After that puts fail with WEFT_ECLOSED, and consumers drain what
 *   is left, then every get - from any number of consumers - returns
 *   WEFT_ECLOSED: Python's "put one None per consumer" pattern, built in.
 *
 *   Joinable (opts.joinable): every message put counts as a task;
 *   weft_queue_task_done() marks one done, weft_queue_join() waits until
 *   all are. A task_done too many is -EOVERFLOW.
 *
 *   Crash safety (shared queues). Producers are serialised by one robust
 *   lock and consumers by another (the two-lock queue), and a message
 *   becomes visible only when it is whole, by one store of the ring's tail;
 *   it leaves only by one store of the head after it was copied out. So a
 *   process SIGKILLed at any instant never wedges the queue (the next
 *   producer or consumer takes the lock from the dead one and goes on),
 *   never exposes a torn message, and never duplicates one: a message a
 *   consumer was copying when it died was never delivered, and the next
 *   consumer gets it. A task of a joinable queue that a consumer took and
 *   never marked done keeps join() waiting (as in Python).
 *
 *   Snapshots: qsize, empty and full are true at the instant they look and
 *   may be stale when they return, as in Python.
 *
 * Threads and fork
 *   Any number of threads (and, shared, processes) may put and get at
 *   once. A shared queue's handle points into shared memory and is valid in
 *   forked children as it is. A thread queue in a forked child is a copy,
 *   unrelated to the parent's.
 */
#ifndef WEFT_QUEUE_H
#define WEFT_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

#include <weft/core.h>
#include <weft/shm.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_queue weft_queue;

enum weft_queue_kind {
    WEFT_QUEUE_FIFO = 0,
    WEFT_QUEUE_LIFO = 1,    /* threads only */
    WEFT_QUEUE_PRIORITY = 2 /* threads only; lowest number first */
};

typedef struct weft_queue_opts {
    int kind;         /* enum weft_queue_kind */
    size_t max_items; /* 0: no bound on the count */
    size_t max_bytes; /* message bytes held; 0: 1 MiB shared, none private */
    size_t max_msg;   /* largest message; 0: as large as max_bytes allows */
    bool joinable;    /* task_done / join */
} weft_queue_opts;

/* opts may be NULL (an unbounded FIFO). Errors: -EINVAL (bad kind for the
 * placement, max_msg over max_bytes), -ENOMEM (no memory; the arena is
 * full). */
WEFT_API int weft_queue_create(weft_queue **out, weft_arena *where,
                               const weft_queue_opts *opts);

/* Put one message. 0; -EAGAIN / -ETIMEDOUT while full; WEFT_ECLOSED after
 * close; -EINVAL (len 0, NULL); -EMSGSIZE (could never fit). For a
 * priority queue this puts with priority 0. */
WEFT_API int weft_queue_put(weft_queue *q, const void *msg, size_t len,
                            int timeout_ms);
/* Put with a priority (priority queues only: -EINVAL otherwise). */
WEFT_API int weft_queue_put_prio(weft_queue *q, int priority, const void *msg,
                                 size_t len, int timeout_ms);
/* Take one message into buf: returns its length (> 0). -EAGAIN /
 * -ETIMEDOUT while empty; WEFT_ECLOSED once closed and drained;
 * -ENOBUFS if cap is smaller than the next message (it stays in the queue;
 * weft_queue_next_len() tells its size). */
WEFT_API int weft_queue_get(weft_queue *q, void *buf, size_t cap,
                            int timeout_ms);
/* The length of the next message, waiting for one like get; for sizing a
 * buffer. Another consumer may take that message meanwhile. */
WEFT_API int weft_queue_next_len(weft_queue *q, int timeout_ms);

/* Zero-copy, for large messages (shared FIFO queues; -EINVAL otherwise).
 * reserve: room for len bytes, waited for like put; *where is inside the
 * queue; write the message there, then commit (it becomes visible) or
 * cancel, from the same thread (it holds the producers' lock until then:
 * other producers wait; keep it short; -EPERM from another thread).
 * peek: the next message in place (*msg, and its length as the result),
 * waited for like get; read it, then release (it is gone) or keep it with
 * weft_queue_unpeek (it stays first), from the same thread. Other
 * consumers wait until then. A
 * process that dies between the two calls loses nothing: the reservation
 * is dropped, the peeked message stays for the next consumer. */
WEFT_API int weft_queue_reserve(weft_queue *q, size_t len, void **where,
                                int timeout_ms);
WEFT_API int weft_queue_commit(weft_queue *q);
WEFT_API int weft_queue_cancel(weft_queue *q);
WEFT_API int weft_queue_peek(weft_queue *q, const void **msg, int timeout_ms);
WEFT_API int weft_queue_release(weft_queue *q);
WEFT_API int weft_queue_unpeek(weft_queue *q);

/* Close (see above). Idempotent. */
WEFT_API int weft_queue_close(weft_queue *q);
WEFT_API int weft_queue_closed(weft_queue *q);

/* Snapshots: messages held now; 1 / 0. */
WEFT_API int weft_queue_qsize(weft_queue *q);
WEFT_API int weft_queue_empty(weft_queue *q);
WEFT_API int weft_queue_full(weft_queue *q);

/* Joinable queues (-EINVAL otherwise). */
WEFT_API int weft_queue_task_done(weft_queue *q);
WEFT_API int weft_queue_join(weft_queue *q, int timeout_ms);

/* Free it. NULL is a no-op. -EBUSY while somebody waits in it - and, for a
 * shared queue, after a process was killed while waiting in it (it stays
 * counted; the queue works on, its memory stays in the arena). */
WEFT_API int weft_queue_destroy(weft_queue *q);

#ifdef __cplusplus
}
#endif
#endif
