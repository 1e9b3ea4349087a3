/* thread_pool.c - the thread backend: worker threads pop tasks from the
 * pool's pending list (pool mutex + condition variable) and finish the
 * futures themselves, so done callbacks run on the worker that ran the
 * task. Workers block every signal, so signals go to the program's own
 * threads.
 */
#include "pool/pool_int.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tworker {
    weft_pool *p;
    int index;
};

struct tpool {
    pthread_cond_t work_cv;
    pthread_cond_t exit_cv;
    int live;           /* worker threads running */
    bool stop;          /* workers end once the list is empty */
    pthread_t *threads; /* by worker index: the current thread */
    pthread_t *retired; /* threads replaced (max_tasks_per_worker) */
    size_t nretired, retired_cap;
    struct tworker *args;
};

static void *worker_main(void *arg);

/* Start worker i (pool mutex held, or during start). */
static int spawn(weft_pool *p, int i)
{
    struct tpool *tp = p->impl;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&tp->threads[i], NULL, worker_main, &tp->args[i]);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return -rc;
    tp->live++;
    return 0;
}

/* Run a chunk's items, writing their records (struct weft__rec) to out
 * and handing them to flush(ctx, first_index_in_chunk, count, out)
 * whenever out holds WEFT__POOL_FLUSH_BYTES or more, and at the end.
 * scratch is the buffer each task appends its result to. 0, -ENOMEM, or
 * the first flush error. (Process workers write their records straight
 * into shared memory instead: process_pool.c.) */
static int
run_chunk(weft_task_fn fn, const unsigned char *args, size_t arg_size,
          size_t count, weft_buf *scratch, weft_buf *out,
          int (*flush)(void *ctx, size_t first, size_t count, weft_buf *out),
          void *ctx)
{
    size_t first = 0;
    for (size_t i = 0; i < count; i++) {
        weft_buf_reset(scratch);
        int status = fn(args + i * arg_size, arg_size, scratch);
        struct weft__rec r = {.status = status, .len = (uint32_t)scratch->len};
        size_t need = weft__rec_size(scratch->len);
        if (weft_buf_reserve(out, need) < 0) {
            /* No memory for more: report what is there first, then this
             * item alone. */
            if (i > first) {
                int rc = flush(ctx, first, i - first, out);
                if (rc < 0)
                    return rc;
                weft_buf_reset(out);
                first = i;
            }
            if (weft_buf_reserve(out, need) < 0) {
                r.error = -ENOMEM;
                r.len = 0;
                need = sizeof r;
                if (weft_buf_reserve(out, need) < 0)
                    return -ENOMEM;
            }
        }
        memcpy(out->data + out->len, &r, sizeof r);
        if (r.len > 0)
            memcpy(out->data + out->len + sizeof r, scratch->data, r.len);
        memset(out->data + out->len + sizeof r + r.len, 0,
               need - sizeof r - r.len);
        out->len += need;
        if (out->len >= WEFT__POOL_FLUSH_BYTES || i + 1 == count) {
            int rc = flush(ctx, first, i + 1 - first, out);
            if (rc < 0)
                return rc;
            weft_buf_reset(out);
            first = i + 1;
        }
    }
    return 0;
}

static int flush_to_job(void *ctx, size_t first, size_t count, weft_buf *out)
{
    struct weft__task *t = ctx;
    weft__job_deliver(t->job, t->first + first, count,
                      (const unsigned char *)out->data);
    return 0;
}

static void run_task(struct weft__task *t, weft_buf *scratch, weft_buf *out)
{
    if (t->fut != NULL) {
        if (!weft__future_claim(t->fut))
            return; /* cancelled */
        weft_buf_reset(scratch);
        int status = t->fn(t->arg, t->len, scratch);
        size_t len = scratch->len;
        if (len > sizeof t->fut->inline_data) {
            void *data = weft_buf_detach(scratch, &len);
            weft__future_finish(t->fut, 0, status, data, len, true);
        } else {
            weft__future_finish(t->fut, 0, status, scratch->data, len, false);
        }
        return;
    }
    struct weft__job *j = t->job;
    if (atomic_load(&j->abandoned))
        return;
    weft_buf_reset(out);
    int rc = run_chunk(t->fn, j->args + t->first * j->arg_size, j->arg_size,
                       t->count, scratch, out, flush_to_job, t);
    if (rc < 0) /* out of memory for the records: the rest fail */
        weft__job_fail(j, t->first, t->count, rc, 0);
}

static void *worker_main(void *arg)
{
    struct tworker *w = arg;
    weft_pool *p = w->p;
    struct tpool *tp = p->impl;
    char name[16];
    snprintf(name, sizeof name, "weft-pool-%d", w->index);
    pthread_setname_np(pthread_self(), name);

    if (p->o.initializer != NULL && p->o.initializer(p->o.init_arg) != 0) {
        pthread_mutex_lock(&p->mu);
        p->broken = true;
        pthread_mutex_unlock(&p->mu);
        weft__pool_fail_pending(p, WEFT_EBROKEN);
        pthread_mutex_lock(&p->mu);
        goto out;
    }
    weft_buf scratch = WEFT_BUF_INIT, out = WEFT_BUF_INIT;
    size_t ran = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        struct weft__task *t = weft__pool_pop(p);
        if (t == NULL) {
            if (tp->stop || p->broken)
                break;
            pthread_cond_wait(&tp->work_cv, &p->mu);
            continue;
        }
        pthread_mutex_unlock(&p->mu);
        run_task(t, &scratch, &out);
        weft__task_free(t);
        pthread_mutex_lock(&p->mu);
        weft__pool_task_ended(p);
        if (p->o.max_tasks_per_worker > 0 &&
            ++ran >= p->o.max_tasks_per_worker && !tp->stop) {
            /* Retire: a fresh thread takes this index. */
            if (tp->nretired == tp->retired_cap) {
                size_t cap = tp->retired_cap ? tp->retired_cap * 2 : 8;
                pthread_t *r = realloc(tp->retired, cap * sizeof *r);
                if (r == NULL)
                    continue; /* keep working instead */
                tp->retired = r;
                tp->retired_cap = cap;
            }
            pthread_t self = tp->threads[w->index];
            if (spawn(p, w->index) == 0) {
                tp->retired[tp->nretired++] = self;
                break;
            }
            tp->threads[w->index] = self; /* could not: keep working */
        }
    }
    weft_buf_free(&scratch);
    weft_buf_free(&out);
out:
    tp->live--;
    pthread_cond_broadcast(&tp->exit_cv);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static int tp_start(weft_pool *p)
{
    struct tpool *tp = calloc(1, sizeof *tp);
    if (tp == NULL)
        return -ENOMEM;
    int n = p->o.workers;
    tp->threads = calloc((size_t)n, sizeof *tp->threads);
    tp->args = calloc((size_t)n, sizeof *tp->args);
    if (tp->threads == NULL || tp->args == NULL) {
        free(tp->threads);
        free(tp->args);
        free(tp);
        return -ENOMEM;
    }
    pthread_cond_init(&tp->work_cv, NULL);
    weft__cond_init_mono(&tp->exit_cv);
    p->impl = tp;
    pthread_mutex_lock(&p->mu);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        tp->args[i] = (struct tworker){p, i};
        rc = spawn(p, i);
    }
    if (rc < 0) {
        tp->stop = true;
        pthread_cond_broadcast(&tp->work_cv);
        int started = tp->live;
        pthread_mutex_unlock(&p->mu);
        for (int i = 0; i < started; i++)
            pthread_join(tp->threads[i], NULL);
        pthread_cond_destroy(&tp->work_cv);
        pthread_cond_destroy(&tp->exit_cv);
        free(tp->threads);
        free(tp->args);
        free(tp);
        p->impl = NULL;
        return rc == -EAGAIN ? -EAGAIN : rc;
    }
    pthread_mutex_unlock(&p->mu);
    return 0;
}

static void tp_kick(weft_pool *p)
{
    struct tpool *tp = p->impl;
    pthread_cond_signal(&tp->work_cv);
}

static int tp_cancel_handed(weft_pool *p, weft_future *f)
{
    (void)p;
    (void)f;
    return -EBUSY; /* thread pools never hand a task out before it runs */
}

static void tp_cancel_all_handed(weft_pool *p)
{
    (void)p; /* nothing is handed out before it runs */
}

static void tp_drain(weft_pool *p)
{
    struct tpool *tp = p->impl;
    tp->stop = true;
    pthread_cond_broadcast(&tp->work_cv);
}

static void tp_terminate(weft_pool *p)
{
    pthread_mutex_lock(&p->mu);
    tp_drain(p);
    pthread_mutex_unlock(&p->mu);
}

static int tp_join(weft_pool *p, weft_deadline d)
{
    struct tpool *tp = p->impl;
    pthread_mutex_lock(&p->mu);
    while (tp->live > 0) {
        if (weft__cond_wait_until(&tp->exit_cv, &p->mu, d) < 0 &&
            tp->live > 0) {
            pthread_mutex_unlock(&p->mu);
            return -ETIMEDOUT;
        }
    }
    /* Every thread has left its loop; reap them. */
    pthread_t *threads = tp->threads, *retired = tp->retired;
    int n = p->o.workers;
    size_t nr = tp->nretired;
    tp->nretired = 0;
    bool reap = !p->joined && threads != NULL;
    if (reap)
        tp->threads = NULL;
    pthread_mutex_unlock(&p->mu);
    if (reap) {
        for (int i = 0; i < n; i++)
            pthread_join(threads[i], NULL);
        free(threads);
    }
    for (size_t i = 0; i < nr; i++)
        pthread_join(retired[i], NULL);
    return 0;
}

static void tp_free(weft_pool *p)
{
    struct tpool *tp = p->impl;
    if (tp == NULL)
        return;
    pthread_cond_destroy(&tp->work_cv);
    pthread_cond_destroy(&tp->exit_cv);
    free(tp->threads);
    free(tp->retired);
    free(tp->args);
    free(tp);
}

const struct weft__backend weft__thread_backend = {
    .start = tp_start,
    .kick = tp_kick,
    .cancel_handed = tp_cancel_handed,
    .cancel_all_handed = tp_cancel_all_handed,
    .drain = tp_drain,
    .terminate = tp_terminate,
    .join = tp_join,
    .free = tp_free,
};
