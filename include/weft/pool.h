/* weft/pool.h - process and thread pools with futures: Python's
 * multiprocessing.Pool, ProcessPoolExecutor and ThreadPoolExecutor behind
 * one API.
 *
 * Model
 *   A pool runs tasks on a fixed number of workers. A task is a C function
 *   and its argument bytes; it returns an int status and may write result
 *   bytes:
 *
 *       int square(const void *arg, size_t len, weft_buf *result)
 *       {
 *           int64_t x;
 *           memcpy(&x, arg, sizeof x);
 *           x *= x;
 *           return weft_buf_append(result, &x, sizeof x);
 *       }
 *
 *   Submitting gives a future; the future tells when the task is done and
 *   holds its outcome. map, imap and apply_async are built on the same
 *   machinery and batch many tasks per message.
 *
 *   Two kinds, chosen at creation:
 *   WEFT_POOL_PROCESS: forked worker processes (default count: the CPU
 *     count). Arguments and results travel as bytes through shared memory,
 *     copied in at submit and out at completion; the function pointer is
 *     valid in the workers because they are forks of this program.
 *     Limits: opts.max_arg and opts.max_result bytes (default 64 KiB each).
 *   WEFT_POOL_THREAD: worker threads of this process (default count: CPU
 *     count x 5, as ThreadPoolExecutor). Arguments are copied too, but
 *     they may hold pointers (pass &ptr, sizeof ptr), and map hands each
 *     task a pointer into the caller's array without copying.
 *
 *   An outcome is one of:
 *     ran         the function returned: its status and its result bytes.
 *     WEFT_EWORKERDIED  the worker process died (a signal, a crash, exit())
 *                 while running the task. The status is the signal that
 *                 killed it (0 if it exited). The pool starts a new worker
 *                 and every other task goes on. (Python's Pool hangs here;
 *                 its ProcessPoolExecutor breaks the whole pool.)
 *     -ETIMEDOUT  the task ran past its deadline (opts.task_timeout_ms or
 *                 weft_pool_submit_timed): its worker was killed and
 *                 replaced. Process pools only; deadlines are checked
 *                 about every 10 ms.
 *     -ECANCELED  cancelled before it started.
 *     WEFT_ECLOSED  the pool was terminated before the task finished.
 *     WEFT_EBROKEN  the pool is broken: a worker's initializer failed, so
 *                 no task can run (Python retries such a worker forever).
 *
 * Failure semantics (process pools)
 *   Each task in flight has a state word in shared memory that a worker
 *   claims with one atomic exchange before running it, so a task is never
 *   run twice, and a worker's death is pinned on exactly the task it had
 *   claimed. Results a worker finished are written to shared memory at
 *   once, so they survive its death too: in a map chunk, the items it had
 *   finished stand, the item it was running fails, and the items it had
 *   not started run on another worker.
 *
 * Callbacks
 *   Done callbacks run exactly once, in the submitting process:
 *   - process pools: on the pool's collector thread (one per pool);
 *   - thread pools: on the worker thread that ran the task;
 *   - a future cancelled or failed by weft_pool_terminate/shutdown: on the
 *     thread that cancelled or terminated it;
 *   - added to a future that is already done: at once, on the caller's
 *     thread.
 *   Keep callbacks short: on a process pool, results wait behind them. A
 *   callback may submit more work; if that submit would have to wait for
 *   room (opts.max_queued) on the collector thread, it fails with -EDEADLK
 *   instead of hanging.
 *
 * Lifecycle
 *   close: no more tasks (submit then fails with WEFT_ECLOSED); join: wait
 *   until every task finished and the workers ended; terminate: stop now -
 *   process workers are killed, tasks not finished fail with WEFT_ECLOSED;
 *   thread workers cannot be killed safely, so on a thread pool the tasks
 *   not started fail with WEFT_ECLOSED and terminate waits for the running
 *   ones to finish. shutdown(wait,
 *   cancel_pending) is concurrent.futures' Executor.shutdown. destroy
 *   terminates a pool that is still running, and never leaves a zombie or
 *   an orphan: workers are reaped, and if this process dies, even by
 *   SIGKILL, the kernel kills its process workers (PR_SET_PDEATHSIG).
 *
 *   SIGINT: process workers ignore it, so Ctrl-C in a terminal does not
 *   kill tasks half-way; the parent decides (Python's known mess, fixed the
 *   way its users work around it). If the parent keeps SIGINT's default
 *   action it dies at once and the kernel kills its workers. A program that
 *   catches SIGINT (weft_signals_*) calls weft_pool_terminate() from its
 *   handler; every waiter then returns within milliseconds.
 *
 * Threads and fork
 *   All functions may be called from any thread of the creating process.
 *   A pool is not usable in a forked child (its collector thread is not
 *   there); a child must not call into an inherited pool. Process pools
 *   fork their workers from the collector thread of a threaded program:
 *   the initializer and tasks must not rely on locks that other threads of
 *   the parent may hold at fork time (malloc and stdio are safe in glibc).
 */
#ifndef WEFT_POOL_H
#define WEFT_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/core.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_pool weft_pool;
typedef struct weft_future weft_future;
typedef struct weft_imap weft_imap;
typedef struct weft_as_completed weft_as_completed;

enum weft_pool_kind { WEFT_POOL_PROCESS = 0, WEFT_POOL_THREAD = 1 };

/* A task: read len argument bytes at arg, append result bytes to result
 * (capped at max_result for process pools: the append fails with
 * -EMSGSIZE), return a status (0 for success, by convention). */
typedef int (*weft_task_fn)(const void *arg, size_t len, weft_buf *result);

/* Runs once in each worker before its first task. Non-zero: the worker
 * cannot work, and the pool is broken (WEFT_EBROKEN). */
typedef int (*weft_pool_init_fn)(void *arg);

/* opts.workers for Python's default count (CPU count for processes, x 5
 * for threads); what opts NULL gives. */
#define WEFT_POOL_DEFAULT_WORKERS (-1)

typedef struct weft_pool_opts {
    int kind;                      /* enum weft_pool_kind */
    int workers;                   /* > 0, or WEFT_POOL_DEFAULT_WORKERS; 0 is
                                      refused (-EINVAL), as Python's Pool(0) */
    weft_pool_init_fn initializer; /* NULL: none */
    void *init_arg;                /* process pools: read in the forked copy */
    size_t max_tasks_per_worker;   /* then the worker is replaced; 0: never */
    size_t max_queued;             /* tasks submitted and not started; 0: no
                                      bound. submit waits for room. */
    size_t max_arg;                /* largest argument; 0: 64 KiB (process),
                                      none (thread) */
    size_t max_result;             /* largest result (process); 0: 64 KiB */
    int task_timeout_ms;           /* default per-task deadline; <= 0: none
                                      (process pools only) */
} weft_pool_opts;

/* opts may be NULL: a process pool with the defaults. Errors: -EINVAL
 * (zero or negative workers, unknown kind, a task timeout on a thread
 * pool), -ENOMEM, -EAGAIN (no process or thread could be started). */
WEFT_API int weft_pool_create(weft_pool **out, const weft_pool_opts *opts);

/* Number of workers; the kind. */
WEFT_API int weft_pool_workers(const weft_pool *p);
WEFT_API int weft_pool_kind(const weft_pool *p);

/* Submit fn(arg, len): *out gets a new future (release it with
 * weft_future_release). Waits while opts.max_queued tasks are queued.
 * Errors: WEFT_ECLOSED (closed or terminated pool), WEFT_EBROKEN, -EINVAL
 * (NULL fn or out, arg NULL with len > 0), -EMSGSIZE (len over max_arg),
 * -EDEADLK (would wait for room on the collector thread), -ENOMEM. */
WEFT_API int weft_pool_submit(weft_pool *p, weft_task_fn fn, const void *arg,
                              size_t len, weft_future **out);
/* Submit with a deadline for this task (ms of running time; <= 0: none).
 * -EINVAL for a deadline on a thread pool. */
WEFT_API int weft_pool_submit_timed(weft_pool *p, weft_task_fn fn,
                                    const void *arg, size_t len,
                                    int task_timeout_ms, weft_future **out);

/* Python's apply: run one task and wait for it. Returns 0 when it ran
 * (*status: its return; its result bytes appended to result, which may be
 * NULL), or its failure (WEFT_EWORKERDIED, -ETIMEDOUT, ...) or a submit
 * error. */
WEFT_API int weft_pool_apply(weft_pool *p, weft_task_fn fn, const void *arg,
                             size_t len, int *status, weft_buf *result);

/* Called when a task ran and returned 0, with its result bytes. */
typedef void (*weft_apply_cb)(void *ud, const void *data, size_t len);
/* Called otherwise: error 0 and the task's non-zero status when it ran,
 * or the failure code (status: the signal, for WEFT_EWORKERDIED). */
typedef void (*weft_apply_err_cb)(void *ud, int error, int status);

/* Python's apply_async: submit, and call cb or err_cb (either may be NULL)
 * once, where done callbacks run. out may be NULL if the caller does not
 * want the future. Errors as weft_pool_submit. */
WEFT_API int weft_pool_apply_async(weft_pool *p, weft_task_fn fn,
                                   const void *arg, size_t len,
                                   weft_apply_cb cb, weft_apply_err_cb err_cb,
                                   void *ud, weft_future **out);

/* The outcome of one item of a map. */
typedef struct weft_task_result {
    int error;  /* 0: the task ran; otherwise its failure code */
    int status; /* its return; the signal for WEFT_EWORKERDIED */
    size_t len; /* result bytes */
} weft_task_result;

/* Python's map: run fn on n items of arg_size bytes each (args[i *
 * arg_size]), in chunks of chunksize items per message (0: chosen as
 * Python does, n / (4 x workers), within max_arg), and wait for all.
 * Item i's result bytes go to out[i * out_size] (NULL/0: dropped; longer
 * results are cut, res[i].len tells the full length) and its outcome to
 * res[i] (may be NULL). Returns how many items failed to run or returned
 * non-zero (0: all succeeded), or an error as weft_pool_submit (nothing
 * ran). args must stay valid until it returns. */
WEFT_API int weft_pool_map(weft_pool *p, weft_task_fn fn, const void *args,
                           size_t arg_size, size_t n, size_t chunksize,
                           void *out, size_t out_size, weft_task_result *res);

/* Python's imap (ordered) and imap_unordered: start a map (args are
 * copied) and read the results as they come. Errors as weft_pool_map. */
WEFT_API int weft_pool_imap(weft_pool *p, weft_task_fn fn, const void *args,
                            size_t arg_size, size_t n, size_t chunksize,
                            bool ordered, weft_imap **out);
/* The next result: 0 with *index (the item), *res, and *data (its bytes,
 * valid until the next call or destroy). Ordered: item 0, 1, 2, ...;
 * unordered: as they finish. -EAGAIN / -ETIMEDOUT if none is ready in
 * time; WEFT_ECLOSED after all n were returned. */
WEFT_API int weft_imap_next(weft_imap *it, int timeout_ms, size_t *index,
                            weft_task_result *res, const void **data);
/* Free it. Items not started yet are cancelled; items running finish
 * into nothing. NULL is a no-op. */
WEFT_API void weft_imap_destroy(weft_imap *it);

/* ---- Lifecycle ----------------------------------------------------------- */

/* No more tasks. Idempotent. */
WEFT_API int weft_pool_close(weft_pool *p);
/* After close or terminate: wait until every task finished and every
 * worker ended. 0, -ETIMEDOUT / -EAGAIN, -EINVAL if the pool is open. */
WEFT_API int weft_pool_join(weft_pool *p, int timeout_ms);
/* Stop now (see Lifecycle above). Returns when the workers are gone (for
 * thread pools: when running tasks ended). Idempotent. */
WEFT_API int weft_pool_terminate(weft_pool *p);
/* Executor.shutdown: close; cancel_pending cancels the tasks not started;
 * wait joins. */
WEFT_API int weft_pool_shutdown(weft_pool *p, bool wait, bool cancel_pending);
/* Terminate if still running, join, free. Futures stay valid (each is
 * released on its own). NULL is a no-op. */
WEFT_API int weft_pool_destroy(weft_pool *p);

/* ---- Futures ------------------------------------------------------------- */

/* Wait until done: 0; -ETIMEDOUT / -EAGAIN; -EINVAL for NULL. A cancelled
 * future is done. */
WEFT_API int weft_future_wait(weft_future *f, int timeout_ms);
/* 1 if done (ran, failed or cancelled), else 0. */
WEFT_API int weft_future_done(weft_future *f);
/* 1 if cancelled. */
WEFT_API int weft_future_cancelled(weft_future *f);
/* Wait until done, then: 0 if the task ran (*status its return, *data and
 * *len its result bytes, owned by the future; any pointer may be NULL), or
 * its failure code (-ECANCELED for a cancelled future; *status is the
 * signal for WEFT_EWORKERDIED). */
WEFT_API int weft_future_result(weft_future *f, int *status, const void **data,
                                size_t *len);
/* Cancel a task that has not started: 0. -EBUSY if it runs or is done. */
WEFT_API int weft_future_cancel(weft_future *f);

typedef void (*weft_future_cb)(weft_future *f, void *ud);
/* Call cb(f, ud) once when f is done (see Callbacks above). 0 or -ENOMEM.
 * The future stays valid during the callback. */
WEFT_API int weft_future_add_done_callback(weft_future *f, weft_future_cb cb,
                                           void *ud);
/* Drop the caller's reference. The task goes on; its outcome is dropped.
 * NULL is a no-op. */
WEFT_API void weft_future_release(weft_future *f);

enum weft_wait_mode { WEFT_WAIT_ALL = 0, WEFT_WAIT_FIRST = 1 };

/* concurrent.futures.wait: until all (or the first) of fs[0..n) are done.
 * Returns how many are done; -ETIMEDOUT / -EAGAIN if the condition was not
 * met in time; -EINVAL. */
WEFT_API int weft_futures_wait(weft_future *const *fs, size_t n, int mode,
                               int timeout_ms);

/* concurrent.futures.as_completed: hands out fs[0..n) in the order they
 * finish. The futures must outlive it. */
WEFT_API int weft_as_completed_create(weft_as_completed **out,
                                      weft_future *const *fs, size_t n);
/* 0 and *f; -ETIMEDOUT / -EAGAIN; WEFT_ECLOSED once all n were handed
 * out. */
WEFT_API int weft_as_completed_next(weft_as_completed *ac, int timeout_ms,
                                    weft_future **f);
WEFT_API void weft_as_completed_destroy(weft_as_completed *ac);

#ifdef __cplusplus
}
#endif
#endif
