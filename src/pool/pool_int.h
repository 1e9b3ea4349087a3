/* pool_int.h - what pool.c (the common part: tasks, the pending list,
 * map jobs, lifecycle), future.c, thread_pool.c and process_pool.c share.
 *
 * The common part keeps, under the pool's mutex, the list of tasks
 * submitted and not yet handed to a worker. A task is one submitted call
 * (with its future) or one chunk of a map job (a range of its items). The
 * backends take tasks from that list: thread workers pop them directly;
 * the process pool's collector hands them to worker processes through
 * shared memory (see process_pool.c).
 *
 * Lock order: pool mutex, then a future's mutex or a job's mutex (those
 * are leaves). Callbacks run with no lock held.
 */
#ifndef WEFT_POOL_INT_H
#define WEFT_POOL_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/pool.h>

#define WEFT__POOL_DEFAULT_MAX_ARG    (64u * 1024)
#define WEFT__POOL_DEFAULT_MAX_RESULT (64u * 1024)
/* Results are reported in messages of about this size. */
#define WEFT__POOL_FLUSH_BYTES 4096u

/* ---- futures (future.c) -------------------------------------------------- */

enum { WEFT__FUT_PENDING = 0, WEFT__FUT_RUNNING = 1, WEFT__FUT_DONE = 2 };

struct weft__fut_cb {
    struct weft__fut_cb *next;
    weft_future_cb cb;
    void *ud;
};

/* Someone waiting on several futures (futures_wait, as_completed). notify
 * runs under the future's mutex: it must be short and take only leaf
 * locks. */
struct weft__fut_waiter {
    struct weft__fut_waiter *prev, *next;
    weft_future *f;
    void (*notify)(struct weft__fut_waiter *w);
    void *ctx;
    bool linked;
};

struct weft_future {
    pthread_mutex_t mu;
    _Atomic uint32_t state; /* WEFT__FUT_*; the futex word of waiters */
    _Atomic uint32_t sleepers;
    _Atomic int refs;
    int error;
    int status;
    size_t len;
    char *data; /* inline_data or malloc'd */
    struct weft__fut_cb *cbs;
    struct weft__fut_waiter *waiters;
    weft_pool *pool; /* for cancel; NULL once the pool is gone */
    int slot;        /* process pools: the slot it was handed to, or -1;
                        under the pool's mutex */
    char inline_data[16];
};

weft_future *weft__future_new(weft_pool *pool);
void weft__future_ref(weft_future *f);
/* Complete f once: later calls return false and do nothing (data is then
 * freed if owned). With own, data is malloc'd and taken over; otherwise
 * it is copied. Runs the callbacks on the calling thread. */
bool weft__future_finish(weft_future *f, int error, int status, void *data,
                         size_t len, bool own);
/* Claim a pending future for running or cancelling: true if it was
 * PENDING (now RUNNING). */
bool weft__future_claim(weft_future *f);

/* ---- tasks and map jobs (pool.c) --------------------------------------- */

struct weft__job;

struct weft__task {
    struct weft__task *next;
    weft_task_fn fn;
    weft_future *fut;      /* single task (a reference), or NULL */
    struct weft__job *job; /* map chunk (a reference), or NULL */
    size_t first, count;   /* chunk: items [first, first + count) */
    int timeout_ms;        /* <= 0: none */
    size_t len;            /* single task: argument bytes at arg */
    unsigned char arg[];   /* single task: the argument */
};

/* A result record in a chunk's report: this header, then len bytes padded
 * to 8. Thread workers and process workers both write them. */
struct weft__rec {
    int32_t error;
    int32_t status;
    uint32_t len;
    uint32_t pad;
};

static inline size_t weft__rec_size(size_t len)
{
    return sizeof(struct weft__rec) + ((len + 7) & ~(size_t)7);
}

struct weft__item {
    int error, status;
    size_t len;
    char *data; /* imap: malloc'd copy, or NULL */
    bool ready;
};

struct weft__job {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    weft_task_fn fn;
    const unsigned char *args; /* the caller's (map) or args_copy (imap) */
    unsigned char *args_copy;
    size_t arg_size, n;
    /* map: results straight into the caller's arrays */
    unsigned char *out;
    size_t out_size;
    weft_task_result *res;
    /* imap: results kept until read */
    struct weft__item *items;
    size_t *ready; /* unordered: ring of ready item indices */
    size_t ready_head, ready_tail;
    bool ordered, imap;
    size_t next_out; /* imap: items returned so far */
    char *last_data; /* imap: data of the item last returned */
    size_t done, failed;
    atomic_bool abandoned; /* imap destroyed: results go nowhere */
};

void weft__job_unref(struct weft__job *j);
/* Store the outcomes of count items from first, read from records. */
void weft__job_deliver(struct weft__job *j, size_t first, size_t count,
                       const unsigned char *recs);
/* Fail count items from first with error/status. */
void weft__job_fail(struct weft__job *j, size_t first, size_t count, int error,
                    int status);

void weft__task_free(struct weft__task *t);

/* ---- the pool ------------------------------------------------------------ */

struct weft__backend {
    int (*start)(weft_pool *p);
    /* New tasks are in the list (called with the pool mutex held). */
    void (*kick)(weft_pool *p);
    /* Cancel a future that was handed out (process pools); pool mutex
     * held. 0 cancelled (the caller finishes the future), -EBUSY. */
    int (*cancel_handed)(weft_pool *p, weft_future *f);
    /* Cancel every task handed out and not started (no lock held). */
    void (*cancel_all_handed)(weft_pool *p);
    /* close with nothing left: let the workers end (pool mutex held). */
    void (*drain)(weft_pool *p);
    /* Stop now; called without the pool mutex. */
    void (*terminate)(weft_pool *p);
    /* Wait until the workers ended (no mutex held). */
    int (*join)(weft_pool *p, weft_deadline d);
    void (*free)(weft_pool *p);
};

struct weft_pool {
    pthread_mutex_t mu;
    pthread_cond_t room_cv; /* submitters waiting for room */
    pthread_cond_t idle_cv; /* joiners waiting for outstanding == 0 */
    weft_pool_opts o;       /* with defaults filled in */
    const struct weft__backend *be;
    void *impl;
    struct weft__task *head, *tail; /* pending, not handed to a worker */
    size_t queued;                  /* tasks in that list */
    size_t outstanding;             /* tasks submitted, not finished */
    bool closed, terminated, broken, drained, joined;
    bool join_busy; /* a weft_pool_join is joining the backend */
    int callers;    /* threads inside join/terminate/shutdown: destroy
                       waits for them to leave */
    struct weft_pool *all_next, *all_prev; /* every live pool (atexit) */
};

extern const struct weft__backend weft__thread_backend;
extern const struct weft__backend weft__process_backend;

/* Pop the next pending task (pool mutex held), NULL if none. */
struct weft__task *weft__pool_pop(weft_pool *p);
/* Put a task back at the front of the list (pool mutex held). */
void weft__pool_push_front(weft_pool *p, struct weft__task *t);
/* A task ended (finished, failed or dropped): pool mutex held. */
void weft__pool_task_ended(weft_pool *p);
/* True if the task should not run: its future is done (cancelled) or its
 * job abandoned. */
bool weft__task_dead(struct weft__task *t);
/* Fail every pending task with error (pool mutex NOT held; takes it). */
void weft__pool_fail_pending(weft_pool *p, int error);
/* Fail one task (no lock held): its future or its chunk's items. */
void weft__task_fail(struct weft__task *t, int error, int status);

/* Condition variables on CLOCK_MONOTONIC, waited for until a deadline:
 * 0 when signalled, -ETIMEDOUT at d. */
void weft__cond_init_mono(pthread_cond_t *c);
int weft__cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m,
                          weft_deadline d);

/* Set while a thread runs a pool's done callbacks for the collector. */
extern _Thread_local weft_pool *weft__pool_cb_thread;

#endif
