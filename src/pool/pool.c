/* pool.c - the part of weft_pool both kinds share: options, the list of
 * pending tasks, submit/apply/apply_async, map jobs (map, imap), cancel
 * and the lifecycle. The workers are the backends' (thread_pool.c,
 * process_pool.c).
 */
#include "pool/pool_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <weft/proc.h>

_Thread_local weft_pool *weft__pool_cb_thread;

/* Every live pool, so that exit() can stop them before weft's own atexit
 * handler terminates daemon children (a collector would replace them). */
static pthread_mutex_t all_mu = PTHREAD_MUTEX_INITIALIZER;
static weft_pool *all_pools;
static pthread_once_t atexit_once = PTHREAD_ONCE_INIT;

static void pools_atexit(void)
{
    for (;;) {
        pthread_mutex_lock(&all_mu);
        weft_pool *p = all_pools;
        while (p != NULL) {
            pthread_mutex_lock(&p->mu);
            bool done = p->terminated || p->joined;
            pthread_mutex_unlock(&p->mu);
            if (!done)
                break;
            p = p->all_next;
        }
        pthread_mutex_unlock(&all_mu);
        if (p == NULL)
            return;
        weft_pool_terminate(p);
    }
}

static void register_atexit(void)
{
    atexit(pools_atexit);
}

/* Registered after the first workers started, so that it runs before the
 * process module's handler (atexit runs handlers in reverse order). */
static void pool_list_add(weft_pool *p)
{
    pthread_mutex_lock(&all_mu);
    p->all_prev = NULL;
    p->all_next = all_pools;
    if (all_pools != NULL)
        all_pools->all_prev = p;
    all_pools = p;
    pthread_mutex_unlock(&all_mu);
    pthread_once(&atexit_once, register_atexit);
}

static void pool_list_remove(weft_pool *p)
{
    pthread_mutex_lock(&all_mu);
    if (p->all_prev != NULL)
        p->all_prev->all_next = p->all_next;
    else if (all_pools == p)
        all_pools = p->all_next;
    if (p->all_next != NULL)
        p->all_next->all_prev = p->all_prev;
    pthread_mutex_unlock(&all_mu);
}

void weft__cond_init_mono(pthread_cond_t *c)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
}

int weft__cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m,
                          weft_deadline d)
{
    if (d == WEFT_DEADLINE_NEVER) {
        pthread_cond_wait(c, m);
        return 0;
    }
    struct timespec ts = {.tv_sec = d / 1000000000, .tv_nsec = d % 1000000000};
    return pthread_cond_timedwait(c, m, &ts) == ETIMEDOUT ? -ETIMEDOUT : 0;
}

int weft_pool_create(weft_pool **out, const weft_pool_opts *opts)
{
    if (out == NULL)
        return -EINVAL;
    weft_pool_opts o = {.workers = WEFT_POOL_DEFAULT_WORKERS};
    if (opts != NULL)
        o = *opts;
    if ((o.kind != WEFT_POOL_PROCESS && o.kind != WEFT_POOL_THREAD) ||
        (o.workers <= 0 && o.workers != WEFT_POOL_DEFAULT_WORKERS))
        return -EINVAL;
    if (o.kind == WEFT_POOL_THREAD && o.task_timeout_ms > 0)
        return -EINVAL;
    int cpus = weft_cpu_count();
    if (cpus < 1)
        cpus = 1;
    if (o.workers == WEFT_POOL_DEFAULT_WORKERS)
        o.workers = o.kind == WEFT_POOL_PROCESS ? cpus : cpus * 5;
    if (o.kind == WEFT_POOL_PROCESS) {
        if (o.max_arg == 0)
            o.max_arg = WEFT__POOL_DEFAULT_MAX_ARG;
        if (o.max_result == 0)
            o.max_result = WEFT__POOL_DEFAULT_MAX_RESULT;
        if (o.max_arg > (1u << 30) || o.max_result > (1u << 30))
            return -EINVAL;
    }
    weft_pool *p = calloc(1, sizeof *p);
    if (p == NULL)
        return -ENOMEM;
    pthread_mutex_init(&p->mu, NULL);
    weft__cond_init_mono(&p->room_cv);
    weft__cond_init_mono(&p->idle_cv);
    p->o = o;
    p->be = o.kind == WEFT_POOL_PROCESS ? &weft__process_backend
                                        : &weft__thread_backend;
    int rc = p->be->start(p);
    if (rc < 0) {
        pthread_cond_destroy(&p->room_cv);
        pthread_cond_destroy(&p->idle_cv);
        pthread_mutex_destroy(&p->mu);
        free(p);
        return rc;
    }
    pool_list_add(p);
    *out = p;
    return 0;
}

int weft_pool_workers(const weft_pool *p)
{
    return p == NULL ? -EINVAL : p->o.workers;
}

int weft_pool_kind(const weft_pool *p)
{
    return p == NULL ? -EINVAL : p->o.kind;
}

/* ---- the pending list ------------------------------------------------- */

struct weft__task *weft__pool_pop(weft_pool *p)
{
    struct weft__task *t = p->head;
    if (t == NULL)
        return NULL;
    p->head = t->next;
    if (p->head == NULL)
        p->tail = NULL;
    t->next = NULL;
    p->queued--;
    if (p->o.max_queued > 0)
        pthread_cond_signal(&p->room_cv);
    return t;
}

void weft__pool_push_front(weft_pool *p, struct weft__task *t)
{
    t->next = p->head;
    p->head = t;
    if (p->tail == NULL)
        p->tail = t;
    p->queued++;
}

static void push_back(weft_pool *p, struct weft__task *t)
{
    t->next = NULL;
    if (p->tail != NULL)
        p->tail->next = t;
    else
        p->head = t;
    p->tail = t;
    p->queued++;
}

void weft__pool_task_ended(weft_pool *p)
{
    if (--p->outstanding == 0) {
        pthread_cond_broadcast(&p->idle_cv);
        if (p->closed && !p->drained) {
            p->drained = true;
            p->be->drain(p);
        }
    }
}

bool weft__task_dead(struct weft__task *t)
{
    if (t->fut != NULL)
        return atomic_load(&t->fut->state) == WEFT__FUT_DONE;
    return atomic_load(&t->job->abandoned);
}

void weft__task_free(struct weft__task *t)
{
    if (t->fut != NULL)
        weft_future_release(t->fut);
    if (t->job != NULL)
        weft__job_unref(t->job);
    free(t);
}

void weft__task_fail(struct weft__task *t, int error, int status)
{
    if (t->fut != NULL)
        weft__future_finish(t->fut, error, status, NULL, 0, false);
    else
        weft__job_fail(t->job, t->first, t->count, error, status);
}

void weft__pool_fail_pending(weft_pool *p, int error)
{
    pthread_mutex_lock(&p->mu);
    struct weft__task *list = p->head;
    p->head = p->tail = NULL;
    p->queued = 0;
    pthread_cond_broadcast(&p->room_cv);
    pthread_mutex_unlock(&p->mu);
    while (list != NULL) {
        struct weft__task *next = list->next;
        weft__task_fail(list, error, 0);
        weft__task_free(list);
        pthread_mutex_lock(&p->mu);
        weft__pool_task_ended(p);
        pthread_mutex_unlock(&p->mu);
        list = next;
    }
}

/* Queue t (pool mutex held); waits for room. */
static int enqueue_locked(weft_pool *p, struct weft__task *t)
{
    for (;;) {
        if (p->closed || p->terminated)
            return WEFT_ECLOSED;
        if (p->broken)
            return WEFT_EBROKEN;
        if (p->o.max_queued == 0 || p->queued < p->o.max_queued)
            break;
        /* The collector frees the room: it must not wait for itself. */
        if (weft__pool_cb_thread == p)
            return -EDEADLK;
        pthread_cond_wait(&p->room_cv, &p->mu);
    }
    push_back(p, t);
    p->outstanding++;
    p->be->kick(p);
    return 0;
}

/* ---- submit ---------------------------------------------------------------
 */

int weft_pool_submit_timed(weft_pool *p, weft_task_fn fn, const void *arg,
                           size_t len, int task_timeout_ms, weft_future **out)
{
    if (p == NULL || fn == NULL || out == NULL || (arg == NULL && len > 0))
        return -EINVAL;
    if (task_timeout_ms > 0 && p->o.kind == WEFT_POOL_THREAD)
        return -EINVAL;
    if (p->o.max_arg > 0 && len > p->o.max_arg)
        return -EMSGSIZE;
    struct weft__task *t = malloc(sizeof *t + len);
    if (t == NULL)
        return -ENOMEM;
    weft_future *f = weft__future_new(p);
    if (f == NULL) {
        free(t);
        return -ENOMEM;
    }
    *t = (struct weft__task){.fn = fn,
                             .fut = f,
                             .count = 1,
                             .len = len,
                             .timeout_ms = task_timeout_ms};
    if (len > 0)
        memcpy(t->arg, arg, len);
    weft__future_ref(f); /* the task's reference */
    pthread_mutex_lock(&p->mu);
    int rc = enqueue_locked(p, t);
    pthread_mutex_unlock(&p->mu);
    if (rc < 0) {
        weft__task_free(t);
        weft_future_release(f);
        return rc;
    }
    *out = f;
    return 0;
}

int weft_pool_submit(weft_pool *p, weft_task_fn fn, const void *arg, size_t len,
                     weft_future **out)
{
    return weft_pool_submit_timed(p, fn, arg, len,
                                  p != NULL ? p->o.task_timeout_ms : 0, out);
}

int weft_pool_apply(weft_pool *p, weft_task_fn fn, const void *arg, size_t len,
                    int *status, weft_buf *result)
{
    weft_future *f;
    int rc = weft_pool_submit(p, fn, arg, len, &f);
    if (rc < 0)
        return rc;
    const void *data;
    size_t n;
    rc = weft_future_result(f, status, &data, &n);
    if (rc == 0 && result != NULL && n > 0) {
        int arc = weft_buf_append(result, data, n);
        if (arc < 0)
            rc = arc;
    }
    weft_future_release(f);
    return rc;
}

struct apply_ctx {
    weft_apply_cb cb;
    weft_apply_err_cb err_cb;
    void *ud;
};

static void apply_done(weft_future *f, void *arg)
{
    struct apply_ctx c = *(struct apply_ctx *)arg;
    free(arg);
    int status;
    const void *data;
    size_t len;
    int err = weft_future_result(f, &status, &data, &len);
    if (err == 0 && status == 0) {
        if (c.cb != NULL)
            c.cb(c.ud, data, len);
    } else if (c.err_cb != NULL) {
        c.err_cb(c.ud, err, status);
    }
}

int weft_pool_apply_async(weft_pool *p, weft_task_fn fn, const void *arg,
                          size_t len, weft_apply_cb cb,
                          weft_apply_err_cb err_cb, void *ud, weft_future **out)
{
    struct apply_ctx *c = malloc(sizeof *c);
    if (c == NULL)
        return -ENOMEM;
    *c = (struct apply_ctx){cb, err_cb, ud};
    weft_future *f;
    int rc = weft_pool_submit(p, fn, arg, len, &f);
    if (rc < 0) {
        free(c);
        return rc;
    }
    rc = weft_future_add_done_callback(f, apply_done, c);
    if (rc < 0) {
        /* No memory for the callback node: it cannot run, so say so
         * instead of leaving a task that never reports. */
        free(c);
        weft_future_cancel(f);
        weft_future_release(f);
        return rc;
    }
    if (out != NULL)
        *out = f;
    else
        weft_future_release(f);
    return 0;
}

int weft_future_cancel(weft_future *f)
{
    if (f == NULL)
        return -EINVAL;
    pthread_mutex_lock(&f->mu);
    weft_pool *p = f->pool;
    pthread_mutex_unlock(&f->mu);
    int rc = -EBUSY;
    if (p == NULL) {
        if (weft__future_claim(f))
            rc = 0;
    } else {
        pthread_mutex_lock(&p->mu);
        if (f->slot >= 0)
            rc = p->be->cancel_handed(p, f);
        else if (weft__future_claim(f))
            rc = 0;
        pthread_mutex_unlock(&p->mu);
    }
    if (rc == 0)
        weft__future_finish(f, -ECANCELED, 0, NULL, 0, false);
    return rc;
}

/* ---- map jobs -------------------------------------------------------------
 */

static struct weft__job *job_new(weft_task_fn fn, size_t arg_size, size_t n)
{
    struct weft__job *j = calloc(1, sizeof *j);
    if (j == NULL)
        return NULL;
    pthread_mutex_init(&j->mu, NULL);
    weft__cond_init_mono(&j->cv);
    j->refs = 1;
    j->fn = fn;
    j->arg_size = arg_size;
    j->n = n;
    return j;
}

void weft__job_unref(struct weft__job *j)
{
    pthread_mutex_lock(&j->mu);
    int left = --j->refs;
    pthread_mutex_unlock(&j->mu);
    if (left > 0)
        return;
    if (j->items != NULL)
        for (size_t i = 0; i < j->n; i++)
            free(j->items[i].data);
    free(j->items);
    free(j->ready);
    free(j->args_copy);
    free(j->last_data);
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
    free(j);
}

/* Record item i's outcome (job mutex held). */
static void job_store(struct weft__job *j, size_t i, int error, int status,
                      const void *data, size_t len)
{
    if (error != 0 || status != 0)
        j->failed++;
    if (j->imap) {
        struct weft__item *it = &j->items[i];
        it->error = error;
        it->status = status;
        it->len = len;
        if (len > 0 && !atomic_load(&j->abandoned)) {
            it->data = malloc(len);
            if (it->data == NULL) {
                it->error = -ENOMEM;
                it->len = 0;
            } else {
                memcpy(it->data, data, len);
            }
        }
        it->ready = true;
        if (!j->ordered)
            j->ready[j->ready_tail++ % j->n] = i;
    } else {
        if (j->res != NULL)
            j->res[i] = (weft_task_result){error, status, len};
        if (j->out != NULL && len > 0)
            memcpy(j->out + i * j->out_size, data,
                   len < j->out_size ? len : j->out_size);
    }
    j->done++;
}

/* Wake the job's reader (job mutex held) - a map's caller only when all
 * is done: waking it for every item would cost two context switches a
 * task. */
static void job_wake(struct weft__job *j)
{
    if (j->imap || j->done == j->n)
        pthread_cond_broadcast(&j->cv);
}

void weft__job_deliver(struct weft__job *j, size_t first, size_t count,
                       const unsigned char *recs)
{
    pthread_mutex_lock(&j->mu);
    for (size_t i = 0; i < count; i++) {
        struct weft__rec r;
        memcpy(&r, recs, sizeof r);
        job_store(j, first + i, r.error, r.status, recs + sizeof r, r.len);
        recs += weft__rec_size(r.len);
    }
    job_wake(j);
    pthread_mutex_unlock(&j->mu);
}

void weft__job_fail(struct weft__job *j, size_t first, size_t count, int error,
                    int status)
{
    pthread_mutex_lock(&j->mu);
    for (size_t i = 0; i < count; i++)
        job_store(j, first + i, error, status, NULL, 0);
    job_wake(j);
    pthread_mutex_unlock(&j->mu);
}

/* Split a job into chunk tasks and queue them. */
static int job_submit(weft_pool *p, struct weft__job *j, size_t chunksize)
{
    if (chunksize == 0) {
        size_t div = (size_t)p->o.workers * 4;
        chunksize = (j->n + div - 1) / div;
    }
    if (p->o.max_arg > 0 && chunksize * j->arg_size > p->o.max_arg)
        chunksize = p->o.max_arg / j->arg_size;
    if (chunksize == 0)
        chunksize = 1;
    size_t ntasks = (j->n + chunksize - 1) / chunksize;
    pthread_mutex_lock(&p->mu);
    int rc = 0;
    for (size_t k = 0; k < ntasks; k++) {
        struct weft__task *t = malloc(sizeof *t);
        if (t == NULL) {
            rc = -ENOMEM;
        } else {
            size_t first = k * chunksize;
            size_t count = j->n - first < chunksize ? j->n - first : chunksize;
            *t = (struct weft__task){.fn = j->fn,
                                     .job = j,
                                     .first = first,
                                     .count = count,
                                     .timeout_ms = p->o.task_timeout_ms};
            pthread_mutex_lock(&j->mu);
            j->refs++;
            pthread_mutex_unlock(&j->mu);
            rc = enqueue_locked(p, t);
            if (rc < 0) {
                pthread_mutex_unlock(&p->mu);
                weft__task_free(t);
                pthread_mutex_lock(&p->mu);
            }
        }
        if (rc < 0) {
            /* The items never queued fail; those queued run. */
            pthread_mutex_unlock(&p->mu);
            weft__job_fail(j, k * chunksize, j->n - k * chunksize, rc, 0);
            return k == 0 ? rc : 0;
        }
    }
    pthread_mutex_unlock(&p->mu);
    return 0;
}

static int check_map_args(weft_pool *p, weft_task_fn fn, const void *args,
                          size_t arg_size, size_t n)
{
    if (p == NULL || fn == NULL || (args == NULL && n > 0 && arg_size > 0))
        return -EINVAL;
    if (n > SIZE_MAX / 2 / (arg_size ? arg_size : 1) || n > UINT32_MAX)
        return -EINVAL;
    if (p->o.max_arg > 0 && arg_size > p->o.max_arg)
        return -EMSGSIZE;
    return 0;
}

int weft_pool_map(weft_pool *p, weft_task_fn fn, const void *args,
                  size_t arg_size, size_t n, size_t chunksize, void *out,
                  size_t out_size, weft_task_result *res)
{
    int rc = check_map_args(p, fn, args, arg_size, n);
    if (rc < 0)
        return rc;
    if (n == 0)
        return 0;
    struct weft__job *j = job_new(fn, arg_size, n);
    if (j == NULL)
        return -ENOMEM;
    j->args = args;
    j->out = out_size > 0 ? out : NULL;
    j->out_size = out_size;
    j->res = res;
    rc = job_submit(p, j, chunksize);
    if (rc == 0) {
        pthread_mutex_lock(&j->mu);
        while (j->done < j->n)
            pthread_cond_wait(&j->cv, &j->mu);
        rc = (int)(j->failed > INT32_MAX ? INT32_MAX : j->failed);
        pthread_mutex_unlock(&j->mu);
    }
    weft__job_unref(j);
    return rc;
}

struct weft_imap {
    struct weft__job *job;
};

int weft_pool_imap(weft_pool *p, weft_task_fn fn, const void *args,
                   size_t arg_size, size_t n, size_t chunksize, bool ordered,
                   weft_imap **out)
{
    int rc = check_map_args(p, fn, args, arg_size, n);
    if (rc < 0 || out == NULL)
        return rc < 0 ? rc : -EINVAL;
    struct weft_imap *it = calloc(1, sizeof *it);
    struct weft__job *j = job_new(fn, arg_size, n);
    if (it == NULL || j == NULL)
        goto nomem;
    j->imap = true;
    j->ordered = ordered;
    j->items = calloc(n ? n : 1, sizeof *j->items);
    j->ready = calloc(n ? n : 1, sizeof *j->ready);
    j->args_copy = malloc(n * arg_size > 0 ? n * arg_size : 1);
    if (j->items == NULL || j->ready == NULL || j->args_copy == NULL)
        goto nomem;
    if (n * arg_size > 0)
        memcpy(j->args_copy, args, n * arg_size);
    j->args = j->args_copy;
    it->job = j;
    if (n > 0) {
        rc = job_submit(p, j, chunksize);
        if (rc < 0) {
            weft__job_unref(j);
            free(it);
            return rc;
        }
    }
    *out = it;
    return 0;
nomem:
    if (j != NULL)
        weft__job_unref(j);
    free(it);
    return -ENOMEM;
}

int weft_imap_next(weft_imap *it, int timeout_ms, size_t *index,
                   weft_task_result *res, const void **data)
{
    if (it == NULL)
        return -EINVAL;
    struct weft__job *j = it->job;
    weft_deadline d = weft_deadline_in(timeout_ms);
    pthread_mutex_lock(&j->mu);
    free(j->last_data);
    j->last_data = NULL;
    for (;;) {
        if (j->next_out == j->n) {
            pthread_mutex_unlock(&j->mu);
            return WEFT_ECLOSED;
        }
        size_t i = SIZE_MAX;
        if (j->ordered && j->items[j->next_out].ready)
            i = j->next_out;
        else if (!j->ordered && j->ready_head != j->ready_tail)
            i = j->ready[j->ready_head++ % j->n];
        if (i != SIZE_MAX) {
            struct weft__item *item = &j->items[i];
            j->next_out++;
            if (index != NULL)
                *index = i;
            if (res != NULL)
                *res = (weft_task_result){item->error, item->status, item->len};
            j->last_data = item->data;
            item->data = NULL;
            if (data != NULL)
                *data = j->last_data;
            pthread_mutex_unlock(&j->mu);
            return 0;
        }
        if (weft_deadline_expired(d)) {
            pthread_mutex_unlock(&j->mu);
            return timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
        }
        weft__cond_wait_until(&j->cv, &j->mu, d);
    }
}

void weft_imap_destroy(weft_imap *it)
{
    if (it == NULL)
        return;
    atomic_store(&it->job->abandoned, true);
    weft__job_unref(it->job);
    free(it);
}

/* ---- lifecycle -------------------------------------------------------------
 */

/* Calls that may block on the pool count themselves in, so that a destroy
 * on another thread frees it only after they left. */
static void enter(weft_pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->callers++;
    pthread_mutex_unlock(&p->mu);
}

static int leave(weft_pool *p, int rc)
{
    pthread_mutex_lock(&p->mu);
    p->callers--;
    pthread_cond_broadcast(&p->idle_cv);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int weft_pool_close(weft_pool *p)
{
    if (p == NULL)
        return -EINVAL;
    pthread_mutex_lock(&p->mu);
    if (!p->closed) {
        p->closed = true;
        pthread_cond_broadcast(&p->room_cv);
        if (p->outstanding == 0 && !p->drained) {
            p->drained = true;
            p->be->drain(p);
        }
    }
    pthread_mutex_unlock(&p->mu);
    return 0;
}

static int join(weft_pool *p, int timeout_ms);

int weft_pool_join(weft_pool *p, int timeout_ms)
{
    if (p == NULL)
        return -EINVAL;
    enter(p);
    return leave(p, join(p, timeout_ms));
}

static int join(weft_pool *p, int timeout_ms)
{
    weft_deadline d = weft_deadline_in(timeout_ms);
    pthread_mutex_lock(&p->mu);
    if (!p->closed && !p->terminated) {
        pthread_mutex_unlock(&p->mu);
        return -EINVAL;
    }
    while (p->outstanding > 0) {
        if (weft__cond_wait_until(&p->idle_cv, &p->mu, d) < 0 &&
            p->outstanding > 0) {
            pthread_mutex_unlock(&p->mu);
            return timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
        }
    }
    /* One joiner at a time joins the backend's threads; the others wait
     * until it is done, so that none returns (and frees) early. */
    while (p->join_busy && !p->joined) {
        if (weft__cond_wait_until(&p->idle_cv, &p->mu, d) < 0 && p->join_busy) {
            pthread_mutex_unlock(&p->mu);
            return timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
        }
    }
    if (p->joined) {
        pthread_mutex_unlock(&p->mu);
        return 0;
    }
    p->join_busy = true;
    pthread_mutex_unlock(&p->mu);
    int rc = p->be->join(p, d);
    pthread_mutex_lock(&p->mu);
    p->join_busy = false;
    if (rc == 0)
        p->joined = true;
    pthread_cond_broadcast(&p->idle_cv);
    pthread_mutex_unlock(&p->mu);
    if (rc < 0)
        return rc == -ETIMEDOUT && timeout_ms == 0 ? -EAGAIN : rc;
    return 0;
}

int weft_pool_terminate(weft_pool *p)
{
    if (p == NULL)
        return -EINVAL;
    enter(p);
    pthread_mutex_lock(&p->mu);
    bool first = !p->terminated;
    p->terminated = true;
    p->closed = true;
    pthread_cond_broadcast(&p->room_cv);
    pthread_mutex_unlock(&p->mu);
    if (first) {
        weft__pool_fail_pending(p, WEFT_ECLOSED);
        p->be->terminate(p);
    }
    return leave(p, join(p, -1));
}

int weft_pool_shutdown(weft_pool *p, bool wait, bool cancel_pending)
{
    if (p == NULL)
        return -EINVAL;
    enter(p);
    weft_pool_close(p);
    if (cancel_pending) {
        weft__pool_fail_pending(p, -ECANCELED);
        p->be->cancel_all_handed(p);
    }
    return leave(p, wait ? join(p, -1) : 0);
}

int weft_pool_destroy(weft_pool *p)
{
    if (p == NULL)
        return 0;
    pthread_mutex_lock(&p->mu);
    bool open = !p->closed;
    pthread_mutex_unlock(&p->mu);
    if (open)
        weft_pool_terminate(p);
    else
        weft_pool_join(p, -1);
    pthread_mutex_lock(&p->mu);
    while (p->callers > 0)
        pthread_cond_wait(&p->idle_cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
    pool_list_remove(p);
    p->be->free(p);
    pthread_cond_destroy(&p->room_cv);
    pthread_cond_destroy(&p->idle_cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
    return 0;
}
