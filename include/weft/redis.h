/* weft/redis.h - weft queues and pools across machines, over Redis.
 *
 * Model
 *   The same queue and future APIs as on one machine, carried by a Redis
 *   server (6.2 or later) that every participant reaches. Nothing here is a
 *   broker of weft's own: Redis holds the messages, and persists them if
 *   it is configured to (appendonly). docs/redis.md has the design, the
 *   delivery guarantees and every error code.
 *
 *   A Redis endpoint is named by a URL:
 *
 *       redis://[[user]:password@]host[:port]/name[?option=value&...]
 *       rediss://[[user]:password@]host[:port]/name[?tls_ca=FILE&...]
 *
 *   host is an address or a host name (port 6379 by default); name is the
 *   queue's or pool's name (1..200 bytes of [A-Za-z0-9._:-]): everyone
 *   using the same server and name shares the queue or pool. Options:
 *     connect_timeout_ms  connecting and each reply (default 5000)
 *     visibility_ms       a message got and not acknowledged for this long
 *                         is delivered again (default 30000)
 *     db                  the database number (SELECT; default 0)
 *     tls_ca              rediss:// only: trust FILE's PEM certificates
 *                         instead of the system's authorities
 *   rediss:// is TLS (1.2 or later, libweft's weft/tls.h under hiredis):
 *   the server's certificate must chain to tls_ca (or a system CA) and
 *   name the host (an address is checked against its IP entries, a name
 *   against its DNS names), before anything - a password - is sent.
 *
 *   Queues (weft_redis_queue_open): a weft_queue that the weft_queue_*
 *   calls of weft/queue.h serve - put, get, the timeout convention, the
 *   non-waiting forms, qsize/empty/full, close and end-of-queue for every
 *   consumer, and joinable task_done/join. Kind FIFO only. Messages are
 *   delivered at least once: one got and not acknowledged within
 *   visibility_ms (its consumer died, or hangs) is delivered again to
 *   another consumer. A joinable queue acknowledges a message at
 *   task_done; a plain one when the same handle gets its next message or
 *   is destroyed. Not available: put_prio, reserve/commit, peek/release
 *   (-EINVAL).
 *
 *   Distributed pools: tasks are C functions registered by name
 *   (WEFT_REDIS_TASK) in the worker program, which calls
 *   weft_redis_worker_run(). Any program submits tasks by name with
 *   argument bytes (weft_redis_pool_submit, _map) and gets weft_futures
 *   (weft/pool.h: wait, result, callbacks, futures_wait, as_completed).
 *   A task whose worker dies is run again by another worker after
 *   visibility_ms; after max_attempts deliveries without a result it
 *   fails with WEFT_EWORKERDIED. A task name no worker has registered
 *   fails with -ENOSYS after unknown_task_ms.
 *
 * Errors (besides those of weft/queue.h and weft/pool.h)
 *   -EINVAL           malformed URL or name, bad option, tls_ca on
 *                     redis:// or unreadable
 *   -ECONNREFUSED     Redis is down or unreachable (also -EHOSTUNREACH,
 *                     -ENETUNREACH); nothing waits for it to come back:
 *                     the next call connects again
 *   -ETIMEDOUT        no reply within connect_timeout_ms (rediss://:
 *                     no TLS handshake within it, e.g. a plain port)
 *   -ECONNRESET       the connection broke (redis:// to a TLS port)
 *   -EACCES           wrong password or user (or one is needed);
 *                     rediss://: the server's certificate is not
 *                     trusted or does not name the host
 *   -EOPNOTSUPP       the server lacks a needed command (older than 6.2)
 *   -EMSGSIZE         message or argument over the server's bulk limit
 *   -EPROTO           an unexpected reply (rediss://: a TLS handshake
 *                     that failed otherwise); -ENOMEM on "OOM" from Redis
 *   -ENOSYS           (future) no worker knows the task's name
 *   WEFT_EWORKERDIED  (future) max_attempts deliveries all died
 *
 * Threads and fork
 *   Handles may be used from any number of threads at once (each call
 *   borrows a connection of its own). After fork() the child may keep
 *   using a queue handle: it notices the new pid, drops the inherited
 *   connections (without disturbing the parent's) and carries on as a new
 *   consumer. A distributed pool handle is not usable in a forked child.
 */
#ifndef WEFT_REDIS_H
#define WEFT_REDIS_H

#include <stdbool.h>
#include <stddef.h>

#include <weft/core.h>
#include <weft/pool.h>
#include <weft/queue.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Queues -------------------------------------------------------------- */

/* Open (creating it in Redis if needed) the queue the URL names. opts may
 * be NULL; kind must be FIFO; max_items bounds the count (put waits, as
 * for local queues); max_msg bounds one message (0: the server's limit,
 * at most 512 MiB); max_bytes is ignored (Redis's memory is the bound);
 * joinable is a property of this handle (open every handle of one queue
 * the same way). Connects at once: errors of the list above. Release
 * with weft_queue_destroy(), which does not delete the queue from Redis
 * (weft_redis_queue_unlink does). */
WEFT_API int weft_redis_queue_open(weft_queue **out, const char *url,
                                   const weft_queue_opts *opts);

/* Delete the queue's keys from Redis (messages, state, close flag). */
WEFT_API int weft_redis_queue_unlink(const char *url);

/* ---- Distributed pools: the worker side ---------------------------------- */

/* Register a task (a weft_task_fn) under a name (1..100 bytes), for the
 * workers of this program. 0; -EEXIST (the name is taken by another
 * function); -ENOMEM; -EINVAL. Thread-safe. */
WEFT_API int weft_redis_task_register(const char *name, weft_task_fn fn);

/* Register fn under its own name when the program starts:
 *     static int square(const void *arg, size_t len, weft_buf *res) {...}
 *     WEFT_REDIS_TASK(square)
 */
#define WEFT_REDIS_TASK(fn)                                                    \
    __attribute__((constructor)) static void weft__redis_reg_##fn(void)        \
    {                                                                          \
        (void)weft_redis_task_register(#fn, fn);                               \
    }

typedef struct weft_redis_worker_opts {
    size_t max_tasks;   /* return once this many tasks ran (one read
                           may bring one more per task name); 0: no
                           limit */
    int idle_exit_ms;   /* return after this long with no task; <= 0:
                           never */
    volatile int *stop; /* return when *stop becomes non-zero (checked at
                           least every 100 ms); NULL: none */
    size_t max_result;  /* largest result; 0: 64 KiB */
} weft_redis_worker_opts;

/* Serve the pool the URL names with the tasks registered in this program,
 * until a limit of opts (may be NULL: forever) is reached. Other workers
 * may join and leave at any time. Returns how many tasks it ran (>= 0),
 * or an error of the list above when Redis cannot be reached at the
 * start (once serving, a lost connection is retried every 100 ms). */
WEFT_API int weft_redis_worker_run(const char *url,
                                   const weft_redis_worker_opts *opts);

/* ---- Distributed pools: the submitter side ------------------------------- */

typedef struct weft_redis_pool weft_redis_pool;

typedef struct weft_redis_pool_opts {
    int max_attempts;    /* deliveries before WEFT_EWORKERDIED; 0: 3 */
    int unknown_task_ms; /* fail a task no worker knows after this; 0:
                            10000 */
} weft_redis_pool_opts;

/* Connect to the pool the URL names. opts may be NULL. Errors of the list
 * above; -ENOMEM; -EAGAIN (no thread). */
WEFT_API int weft_redis_pool_open(weft_redis_pool **out, const char *url,
                                  const weft_redis_pool_opts *opts);

/* Submit the task registered as name in the workers, with len argument
 * bytes (copied). *out gets a future (weft/pool.h) whose result is the
 * task's status and result bytes, or its failure (-ENOSYS,
 * WEFT_EWORKERDIED, WEFT_ECLOSED when the pool is closed before the result
 * came). Cancelling the future only detaches it: the task may still run.
 * Errors: -EINVAL, -EMSGSIZE, WEFT_ECLOSED, connection errors. */
WEFT_API int weft_redis_pool_submit(weft_redis_pool *p, const char *name,
                                    const void *arg, size_t len,
                                    weft_future **out);

/* Python's map over the pool: run name on n items of arg_size bytes, wait
 * for all; results and outcomes as weft_pool_map (weft/pool.h). Returns
 * how many items failed or returned non-zero, or a submit error. */
WEFT_API int weft_redis_pool_map(weft_redis_pool *p, const char *name,
                                 const void *args, size_t arg_size, size_t n,
                                 void *out, size_t out_size,
                                 weft_task_result *res);

/* Stop: futures not done fail with WEFT_ECLOSED (their tasks may still
 * run), the collector thread ends, the handle is freed. NULL: no-op. */
WEFT_API int weft_redis_pool_close(weft_redis_pool *p);

#ifdef __cplusplus
}
#endif
#endif
