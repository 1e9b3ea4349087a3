/* process_pool.c - the process backend.
 *
 * Shared memory (one arena per pool, inherited by the forked workers):
 *   - the call queue: the parent puts one message per task it hands out
 *     (slot, generation, function, items, arguments); workers take them;
 *   - the result queue: workers put their reports; the parent's collector
 *     thread reads them, and so do the monitor's death notices;
 *   - slots: one state word per task handed out. At most nslots tasks are
 *     handed out at once (2 x workers + 2): enough to keep every worker
 *     busy, few enough that cancel still reaches most waiting tasks - the
 *     rest wait in the parent's list.
 *
 * A slot's state word is (generation, worker, state). The parent makes it
 * PENDING(g) when it hands a task out; a worker peeks the task's message,
 * claims the slot with one compare-and-swap PENDING(g) -> RUNNING(g, w),
 * copies the arguments, and only then releases the message. So:
 *   - a worker killed before the claim leaves the message in the queue
 *     (the queue's crash safety) for the next worker;
 *   - one killed after the claim is found by its worker number: that task
 *     fails with WEFT_EWORKERDIED (or -ETIMEDOUT if the monitor killed it
 *     for its deadline: state KILLED), and if its message was not released
 *     yet, the next worker finds the generation changed and drops it: no
 *     task runs twice;
 *   - cancel is the compare-and-swap PENDING(g) -> CANCELLED(g); the
 *     worker that meets the message reports SKIP and the slot is freed.
 * Only the collector frees slots (generation + 1), so every report is
 * checked against the slot's generation and stale ones are dropped.
 *
 * Threads in the parent: the collector (reads reports, finishes futures
 * and runs their callbacks, hands out tasks, replaces dead workers) and
 * the monitor (epoll on the workers' pidfds; turns a death into a DEATH
 * report, so that it is handled after everything the worker reported
 * before dying; kills workers past their task's deadline).
 */
#include "pool/pool_int.h"
#include "core/log_int.h"
#include "proc/process_int.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <weft/proc.h>
#include <weft/queue.h>
#include <weft/shm.h>

enum { S_FREE = 0, S_PENDING, S_RUNNING, S_CANCELLED, S_KILLED };

#define ST(gen, w, st)                                                         \
    (((uint64_t)(uint32_t)(gen) << 32) | ((uint64_t)(uint32_t)(w) << 8) |      \
     (uint64_t)(st))
#define ST_GEN(s)    ((uint32_t)((s) >> 32))
#define ST_WORKER(s) ((int)(((s) >> 8) & 0xffffff))
#define ST_STATE(s)  ((int)((s)&0xff))

struct pslot {
    _Atomic uint64_t state;
    _Atomic uint32_t progress; /* items of the chunk started */
    _Atomic int64_t deadline;  /* ns on the monotonic clock; 0: none */
} __attribute__((aligned(64)));

struct call_msg {
    uint32_t slot, gen;
    weft_task_fn fn;
    uint32_t count, item_size;
    int32_t timeout_ms;
    uint32_t pad;
};

enum { R_RESULT = 1, R_SKIP, R_DEATH };

/* A report is one or more segments: this header, then bytes of records
 * (weft__rec). */
struct res_msg {
    uint32_t type, slot, gen;
    int32_t worker;
    uint32_t first, count;
    int32_t last;
    uint32_t bytes;
};

struct prec { /* the parent's side of a slot; under the pool mutex */
    struct weft__task *task;
    uint32_t gen;
    uint32_t delivered; /* chunk items reported */
};

struct ppool;

struct wpend;

struct pworker {
    struct ppool *pp;
    int index;
    struct wpend *pend; /* its reports not sent yet (shared memory) */
    weft_process *proc; /* NULL while there is none; under wmu */
};

struct ppool {
    weft_pool *p;
    weft_arena *arena;
    weft_queue *callq, *resq;
    struct pslot *slots;
    _Atomic int *init_failed; /* shared, by worker index */
    struct prec *recs;
    int nslots;
    int *free_slots; /* stack of free slot numbers (pool mutex) */
    int nfree;
    struct pworker *workers;
    pthread_mutex_t wmu; /* worker handles: the monitor kills, the
                            collector replaces */
    int live;            /* worker processes alive (under wmu) */
    int epfd, evfd;      /* evfd: the monitor's stop signal */
    int wakefd;          /* a task with a deadline was handed out */
    pthread_t collector, monitor;
    bool threads_started;
    _Atomic int deadline_tasks; /* handed out with a deadline */
    size_t res_cap;
    unsigned char *resbuf;
    /* collector exit, under the pool mutex */
    bool collector_done, threads_joined;
    pthread_cond_t done_cv;
    int stop_error; /* what tasks still held fail with when it stops */
};

/* ---- the worker process ------------------------------------------------- */

/* A worker writes its reports into its own area of shared memory (struct
 * wpend) and sends them to the collector in one message when they reach
 * WEFT__POOL_FLUSH_BYTES, when it finds the call queue empty, or HOLD_NS
 * after the oldest - whichever is first - so the collector gets many
 * results per message. Every record is complete before the segment header
 * counts it, so when a worker dies the collector reads its area and loses
 * no result it finished: only the task it was running fails. (A report
 * sent just before the death may be read twice; the collector drops the
 * copy by slot generation and item number.) */
#define HOLD_NS 1000000

struct wpend {
    uint32_t closed;  /* bytes of whole segments */
    uint32_t open_at; /* 1 + the offset of the segment being filled, 0 if
                         none; stale (below closed + 1) once closed */
    uint32_t cap;
    uint32_t pad;
    unsigned char data[];
};

struct wstate {
    struct ppool *pp;
    int worker;
    struct wpend *pend;
    const struct call_msg *m; /* the task running */
    int64_t since;            /* when the oldest report was written */
};

static struct res_msg *open_seg(struct wstate *ws)
{
    return (struct res_msg *)(ws->pend->data + ws->pend->closed);
}

static int send_pending(struct wstate *ws)
{
    struct wpend *pd = ws->pend;
    if (pd->closed == 0)
        return 0;
    void *where;
    int rc = weft_queue_reserve(ws->pp->resq, pd->closed, &where, -1);
    if (rc < 0)
        return rc;
    memcpy(where, pd->data, pd->closed);
    rc = weft_queue_commit(ws->pp->resq);
    atomic_signal_fence(memory_order_seq_cst);
    pd->closed = 0;
    return rc;
}

static void begin_seg(struct wstate *ws, int type, uint32_t first)
{
    struct wpend *pd = ws->pend;
    if (pd->closed == 0)
        ws->since = weft_now_ns();
    struct res_msg r = {.type = (uint32_t)type,
                        .slot = ws->m->slot,
                        .gen = ws->m->gen,
                        .worker = ws->worker,
                        .first = first};
    memcpy(open_seg(ws), &r, sizeof r);
    atomic_signal_fence(memory_order_seq_cst);
    pd->open_at = pd->closed + 1;
}

static void end_seg(struct wstate *ws, bool last)
{
    struct wpend *pd = ws->pend;
    struct res_msg *r = open_seg(ws);
    r->last = last;
    uint32_t size = (uint32_t)sizeof *r + r->bytes;
    atomic_signal_fence(memory_order_seq_cst);
    pd->closed += size;
    atomic_signal_fence(memory_order_seq_cst);
    pd->open_at = 0;
}

/* Room for a segment header and need bytes of records after it? */
static bool seg_room(struct wstate *ws, size_t need)
{
    struct wpend *pd = ws->pend;
    return pd->closed + sizeof(struct res_msg) + need <= pd->cap;
}

/* Append one item's record to the open segment. */
static int add_item(struct wstate *ws, int status, const weft_buf *res)
{
    struct wpend *pd = ws->pend;
    struct res_msg *r = open_seg(ws);
    size_t need = weft__rec_size(res->len);
    if (!seg_room(ws, r->bytes + need)) {
        uint32_t next = r->first + r->count;
        end_seg(ws, false);
        int rc = send_pending(ws);
        if (rc < 0)
            return rc;
        begin_seg(ws, R_RESULT, next);
        r = open_seg(ws);
    }
    unsigned char *at = pd->data + pd->closed + sizeof *r + r->bytes;
    struct weft__rec rec = {.status = status, .len = (uint32_t)res->len};
    memcpy(at, &rec, sizeof rec);
    if (res->len > 0)
        memcpy(at + sizeof rec, res->data, res->len);
    memset(at + sizeof rec + res->len, 0, need - sizeof rec - res->len);
    /* The record is whole before the header counts it. */
    atomic_signal_fence(memory_order_seq_cst);
    r->bytes += (uint32_t)need;
    r->count++;
    return 0;
}

static int run_task(struct wstate *ws, struct pslot *s,
                    const unsigned char *args, weft_buf *scratch)
{
    const struct call_msg *m = ws->m;
    if (!seg_room(ws, weft__rec_size(0))) {
        int rc = send_pending(ws);
        if (rc < 0)
            return rc;
    }
    begin_seg(ws, R_RESULT, 0);
    for (uint32_t i = 0; i < m->count; i++) {
        atomic_store_explicit(&s->progress, i + 1, memory_order_relaxed);
        weft_buf_reset(scratch);
        int status =
            m->fn(args + (size_t)i * m->item_size, m->item_size, scratch);
        int rc = add_item(ws, status, scratch);
        if (rc < 0)
            return rc;
    }
    end_seg(ws, true);
    return 0;
}

static int worker_main(void *arg)
{
    struct pworker *pw = arg;
    struct ppool *pp = pw->pp;
    const weft_pool_opts *o = &pp->p->o;
    int w = pw->index;

    /* The parent decides about Ctrl-C (see pool.h). */
    signal(SIGINT, SIG_IGN);
    close(pp->epfd);
    close(pp->evfd);
    close(pp->wakefd);
    if (o->initializer != NULL && o->initializer(o->init_arg) != 0) {
        atomic_store(&pp->init_failed[w], 1);
        return 3;
    }
    struct wstate ws = {.pp = pp, .worker = w, .pend = pw->pend};
    weft_buf scratch;
    weft_buf_init(&scratch, o->max_result);
    unsigned char *args = NULL;
    size_t args_cap = 0;
    size_t ran = 0;
    for (;;) {
        const void *msg;
        int n = weft_queue_peek(pp->callq, &msg, 0);
        if (n == -EAGAIN) {
            /* Nothing queued: send what is held, then wait. */
            if (send_pending(&ws) < 0)
                return 5;
            n = weft_queue_peek(pp->callq, &msg, -1);
        }
        if (n == WEFT_ECLOSED)
            return send_pending(&ws) < 0 ? 5 : 0;
        if (n < 0)
            return 4;
        struct call_msg m;
        memcpy(&m, msg, sizeof m);
        struct pslot *s = &pp->slots[m.slot];
        uint64_t expect = ST(m.gen, 0, S_PENDING);
        if (!atomic_compare_exchange_strong(&s->state, &expect,
                                            ST(m.gen, w, S_RUNNING))) {
            weft_queue_release(pp->callq); /* stale or cancelled */
            if (expect == ST(m.gen, 0, S_CANCELLED)) {
                if (!seg_room(&ws, 0) && send_pending(&ws) < 0)
                    return 5;
                ws.m = &m;
                begin_seg(&ws, R_SKIP, 0);
                end_seg(&ws, true);
            }
            continue;
        }
        size_t len = (size_t)n - sizeof m;
        if (len + 1 > args_cap) {
            unsigned char *a = realloc(args, len + 1);
            if (a == NULL)
                return 5; /* reported as a death: the task fails */
            args = a;
            args_cap = len + 1;
        }
        memcpy(args, (const char *)msg + sizeof m, len);
        if (m.timeout_ms > 0)
            atomic_store(&s->deadline,
                         weft_now_ns() + (int64_t)m.timeout_ms * 1000000);
        weft_queue_release(pp->callq);

        ws.m = &m;
        if (run_task(&ws, s, args, &scratch) < 0)
            return 5;
        /* Done: past its deadline now is no reason to kill this worker. */
        atomic_store(&s->deadline, 0);
        if (ws.pend->closed >= WEFT__POOL_FLUSH_BYTES ||
            weft_queue_empty(pp->callq) == 1 ||
            weft_now_ns() - ws.since >= HOLD_NS)
            if (send_pending(&ws) < 0)
                return 5;
        if (o->max_tasks_per_worker > 0 && ++ran >= o->max_tasks_per_worker)
            return send_pending(&ws) < 0 ? 5 : 0;
    }
}

/* ---- the parent: workers ---------------------------------------------------
 */

/* Start worker w (no pool mutex needed; takes wmu). */
static int spawn_worker(struct ppool *pp, int w)
{
    char name[32];
    snprintf(name, sizeof name, "weft-pool-worker-%d", w);
    weft_process_opts po = {
        .name = name, .daemon = true, .start_method = WEFT_START_FORK};
    weft_process *proc;
    atomic_store(&pp->init_failed[w], 0);
    pp->workers[w].pend->closed = pp->workers[w].pend->open_at = 0;
    int rc = weft_process_create(&proc, worker_main, &pp->workers[w], &po);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&pp->wmu);
    rc = weft_process_start(proc);
    if (rc == 0) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)w};
        if (epoll_ctl(pp->epfd, EPOLL_CTL_ADD, proc->child.pidfd, &ev) < 0) {
            rc = -errno;
            weft_process_kill(proc);
            weft_process_join(proc, -1);
        } else {
            pp->workers[w].proc = proc;
            pp->live++;
        }
    }
    pthread_mutex_unlock(&pp->wmu);
    if (rc < 0)
        weft_process_destroy(proc);
    return rc;
}

static void kill_all(struct ppool *pp)
{
    pthread_mutex_lock(&pp->wmu);
    for (int i = 0; i < pp->p->o.workers; i++)
        if (pp->workers[i].proc != NULL)
            weft_process_kill(pp->workers[i].proc);
    pthread_mutex_unlock(&pp->wmu);
}

/* ---- the parent: handing tasks out -------------------------------------- */

/* Pool mutex held. */
static void feed(weft_pool *p)
{
    struct ppool *pp = p->impl;
    if (pp->collector_done)
        return;
    while (p->head != NULL && pp->nfree > 0) {
        int i = pp->free_slots[pp->nfree - 1];
        struct weft__task *t = weft__pool_pop(p);
        if (weft__task_dead(t)) {
            weft__task_free(t);
            weft__pool_task_ended(p);
            continue;
        }
        size_t item = t->fut != NULL ? t->len : t->job->arg_size;
        size_t len = sizeof(struct call_msg) + item * t->count;
        void *where;
        if (weft_queue_reserve(pp->callq, len, &where, 0) < 0) {
            /* No room just now (a stale message): retry at the next
             * report. */
            weft__pool_push_front(p, t);
            return;
        }
        pp->nfree--;
        struct prec *r = &pp->recs[i];
        struct call_msg m = {.slot = (uint32_t)i,
                             .gen = r->gen,
                             .fn = t->fn,
                             .count = (uint32_t)t->count,
                             .item_size = (uint32_t)item,
                             .timeout_ms = t->timeout_ms};
        memcpy(where, &m, sizeof m);
        if (t->fut != NULL) {
            if (t->len > 0)
                memcpy((char *)where + sizeof m, t->arg, t->len);
            t->fut->slot = i;
        } else {
            memcpy((char *)where + sizeof m,
                   t->job->args + t->first * t->job->arg_size, item * t->count);
        }
        struct pslot *s = &pp->slots[i];
        atomic_store_explicit(&s->progress, 0, memory_order_relaxed);
        atomic_store_explicit(&s->deadline, 0, memory_order_relaxed);
        atomic_store_explicit(&s->state, ST(r->gen, 0, S_PENDING),
                              memory_order_release);
        r->task = t;
        r->delivered = 0;
        weft_queue_commit(pp->callq);
        if (t->timeout_ms > 0 &&
            atomic_fetch_add(&pp->deadline_tasks, 1) == 0) {
            /* The monitor may sleep with no timeout: make it look. */
            uint64_t one = 1;
            ssize_t wr = write(pp->wakefd, &one, sizeof one);
            (void)wr;
        }
    }
}

/* Free slot i and take its task (pool mutex held). */
static struct weft__task *slot_take(struct ppool *pp, int i)
{
    struct prec *r = &pp->recs[i];
    struct weft__task *t = r->task;
    r->task = NULL;
    r->gen++;
    pp->free_slots[pp->nfree++] = i;
    atomic_store_explicit(&pp->slots[i].state, ST(r->gen, 0, S_FREE),
                          memory_order_release);
    if (t->fut != NULL)
        t->fut->slot = -1;
    if (t->timeout_ms > 0)
        atomic_fetch_sub(&pp->deadline_tasks, 1);
    return t;
}

static void pp_kick(weft_pool *p)
{
    feed(p);
}

static int pp_cancel_handed(weft_pool *p, weft_future *f)
{
    struct ppool *pp = p->impl;
    int i = f->slot;
    struct prec *r = &pp->recs[i];
    if (r->task == NULL || r->task->fut != f)
        return -EBUSY;
    uint64_t expect = ST(r->gen, 0, S_PENDING);
    if (!atomic_compare_exchange_strong(&pp->slots[i].state, &expect,
                                        ST(r->gen, 0, S_CANCELLED)))
        return -EBUSY;
    return 0;
}

static void pp_cancel_all_handed(weft_pool *p)
{
    struct ppool *pp = p->impl;
    struct cancelled {
        weft_future *f;
        struct weft__job *job;
        size_t first, count;
    } *c = calloc((size_t)pp->nslots, sizeof *c);
    if (c == NULL)
        return;
    int n = 0;
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < pp->nslots; i++) {
        struct prec *r = &pp->recs[i];
        uint64_t expect = ST(r->gen, 0, S_PENDING);
        if (r->task == NULL ||
            !atomic_compare_exchange_strong(&pp->slots[i].state, &expect,
                                            ST(r->gen, 0, S_CANCELLED)))
            continue;
        /* The slot keeps its task until the worker's SKIP: take our own
         * references for finishing it outside the lock. */
        struct weft__task *t = r->task;
        if (t->fut != NULL) {
            weft__future_ref(t->fut);
            c[n].f = t->fut;
        } else {
            pthread_mutex_lock(&t->job->mu);
            t->job->refs++;
            pthread_mutex_unlock(&t->job->mu);
            c[n].job = t->job;
            c[n].first = t->first;
            c[n].count = t->count;
        }
        n++;
    }
    pthread_mutex_unlock(&p->mu);
    for (int k = 0; k < n; k++) {
        if (c[k].f != NULL) {
            weft__future_finish(c[k].f, -ECANCELED, 0, NULL, 0, false);
            weft_future_release(c[k].f);
        } else {
            weft__job_fail(c[k].job, c[k].first, c[k].count, -ECANCELED, 0);
            weft__job_unref(c[k].job);
        }
    }
    free(c);
}

/* ---- the collector ---------------------------------------------------------
 */

/* A task ended: free it and count it (no lock held). */
static void task_done(weft_pool *p, struct weft__task *t)
{
    weft__task_free(t);
    pthread_mutex_lock(&p->mu);
    weft__pool_task_ended(p);
    feed(p);
    pthread_mutex_unlock(&p->mu);
}

static void on_result(weft_pool *p, const struct res_msg *m,
                      const unsigned char *recs)
{
    struct ppool *pp = p->impl;
    pthread_mutex_lock(&p->mu);
    if (m->slot >= (uint32_t)pp->nslots || pp->recs[m->slot].task == NULL ||
        pp->recs[m->slot].gen != m->gen) {
        pthread_mutex_unlock(&p->mu);
        return; /* stale */
    }
    struct prec *rec = &pp->recs[m->slot];
    struct weft__task *t = rec->task;
    if (m->type == R_SKIP) {
        slot_take(pp, (int)m->slot);
        pthread_mutex_unlock(&p->mu);
        task_done(p, t);
        return;
    }
    /* Segments of a slot come in item order; one that does not start
     * where the last ended is a copy read again after a death. */
    if (m->first != rec->delivered || m->count > t->count - m->first ||
        (t->fut != NULL && m->count != 1)) {
        pthread_mutex_unlock(&p->mu);
        return;
    }
    rec->delivered += m->count;
    if (m->last) {
        slot_take(pp, (int)m->slot);
        feed(p);
    }
    pthread_mutex_unlock(&p->mu);

    if (t->fut != NULL) {
        struct weft__rec r;
        memcpy(&r, recs, sizeof r);
        weft__future_finish(t->fut, r.error, r.status,
                            (void *)(recs + sizeof r), r.len, false);
    } else {
        weft__job_deliver(t->job, t->first + m->first, m->count, recs);
    }
    if (m->last)
        task_done(p, t);
}

static void on_death(weft_pool *p, int w)
{
    struct ppool *pp = p->impl;
    int code = 0;
    pthread_mutex_lock(&pp->wmu);
    weft_process *proc = pp->workers[w].proc;
    pp->workers[w].proc = NULL;
    pp->live--;
    pthread_mutex_unlock(&pp->wmu);
    if (proc != NULL) {
        weft_process_join(proc, -1);
        weft_process_exitcode(proc, &code);
        weft_process_destroy(proc);
    }
    bool init_failed = atomic_load(&pp->init_failed[w]) != 0;

    /* What it finished and had not sent: its whole segments, then the one
     * it was filling (its header counts only whole records). */
    struct wpend *pd = pp->workers[w].pend;
    uint32_t end = pd->closed;
    if (pd->open_at == end + 1 && end + sizeof(struct res_msg) <= pd->cap)
        end += (uint32_t)sizeof(struct res_msg) +
               ((struct res_msg *)(pd->data + pd->closed))->bytes;
    for (uint32_t off = 0;
         end <= pd->cap && off + sizeof(struct res_msg) <= end;) {
        struct res_msg m;
        memcpy(&m, pd->data + off, sizeof m);
        off += (uint32_t)sizeof m;
        if (m.bytes > end - off)
            break;
        if (m.type == R_RESULT && m.count > 0)
            on_result(p, &m, pd->data + off);
        else if (m.type == R_SKIP)
            on_result(p, &m, NULL);
        off += m.bytes;
    }
    pd->closed = pd->open_at = 0;

    /* The tasks this worker had claimed. */
    struct taken {
        struct weft__task *t;
        uint32_t delivered, progress;
        bool killed;
    } *taken = NULL;
    int ntaken = 0;
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < pp->nslots; i++) {
        struct prec *r = &pp->recs[i];
        if (r->task == NULL)
            continue;
        uint64_t s = atomic_load(&pp->slots[i].state);
        int st = ST_STATE(s);
        if (ST_GEN(s) != r->gen || ST_WORKER(s) != w ||
            (st != S_RUNNING && st != S_KILLED))
            continue;
        struct taken *tk = realloc(taken, (size_t)(ntaken + 1) * sizeof *tk);
        if (tk == NULL)
            break; /* left claimed: failed when the pool stops */
        taken = tk;
        taken[ntaken].delivered = r->delivered;
        taken[ntaken].progress = atomic_load(&pp->slots[i].progress);
        taken[ntaken].killed = st == S_KILLED;
        taken[ntaken].t = slot_take(pp, i);
        ntaken++;
    }
    if (init_failed && !p->broken) {
        p->broken = true;
        pp->stop_error = WEFT_EBROKEN;
    }
    int stop_error = p->terminated ? WEFT_ECLOSED
                     : p->broken   ? WEFT_EBROKEN
                                   : 0;
    bool replace = stop_error == 0 && !p->drained;
    pthread_mutex_unlock(&p->mu);

    int signo = code < 0 ? -code : 0;
    for (int k = 0; k < ntaken; k++) {
        struct weft__task *t = taken[k].t;
        int err = stop_error        ? stop_error
                  : taken[k].killed ? -ETIMEDOUT
                                    : WEFT_EWORKERDIED;
        if (t->fut != NULL) {
            weft__future_finish(t->fut, err, signo, NULL, 0, false);
            task_done(p, t);
            continue;
        }
        /* A chunk: what was reported stands; the items started and not
         * reported fail; the rest run again elsewhere. */
        uint32_t from = taken[k].delivered, to = taken[k].progress;
        if (to < from)
            to = from;
        if (to > t->count)
            to = (uint32_t)t->count;
        if (to > from)
            weft__job_fail(t->job, t->first + from, to - from, err, signo);
        if (to < t->count) {
            struct weft__task *rest = malloc(sizeof *rest);
            if (rest == NULL || stop_error != 0) {
                free(rest);
                weft__job_fail(t->job, t->first + to, t->count - to,
                               stop_error ? stop_error : -ENOMEM, 0);
            } else {
                *rest = *t;
                rest->next = NULL;
                rest->fut = NULL;
                rest->first = t->first + to;
                rest->count = t->count - to;
                pthread_mutex_lock(&t->job->mu);
                t->job->refs++;
                pthread_mutex_unlock(&t->job->mu);
                pthread_mutex_lock(&p->mu);
                weft__pool_push_front(p, rest);
                p->outstanding++;
                pthread_mutex_unlock(&p->mu);
            }
        }
        task_done(p, t);
    }
    free(taken);

    if (stop_error == WEFT_EBROKEN) {
        weft__pool_fail_pending(p, WEFT_EBROKEN);
        kill_all(pp);
    }
    if (replace && spawn_worker(pp, w) < 0)
        weft__log(WEFT_LOG_WARN, "pool: could not replace worker %d", w);
    pthread_mutex_lock(&p->mu);
    feed(p);
    pthread_mutex_unlock(&p->mu);
}

/* Start any worker that is missing (after a failed replacement). */
static void respawn_missing(weft_pool *p)
{
    struct ppool *pp = p->impl;
    pthread_mutex_lock(&p->mu);
    bool replace = !p->terminated && !p->broken && !p->drained;
    pthread_mutex_unlock(&p->mu);
    for (int w = 0; replace && w < p->o.workers; w++) {
        pthread_mutex_lock(&pp->wmu);
        bool missing = pp->workers[w].proc == NULL;
        pthread_mutex_unlock(&pp->wmu);
        if (missing)
            spawn_worker(pp, w);
    }
}

static void *collector_main(void *arg)
{
    weft_pool *p = arg;
    struct ppool *pp = p->impl;
    weft__pool_cb_thread = p;
    pthread_setname_np(pthread_self(), "weft-collector");
    for (;;) {
        pthread_mutex_lock(&pp->wmu);
        int live = pp->live;
        pthread_mutex_unlock(&pp->wmu);
        pthread_mutex_lock(&p->mu);
        bool stopping = p->terminated || p->broken || p->drained;
        pthread_mutex_unlock(&p->mu);
        if (stopping && live == 0)
            break;
        int timeout = !stopping && live < p->o.workers ? 100 : -1;
        int n = weft_queue_get(pp->resq, pp->resbuf, pp->res_cap, timeout);
        if (n == -ETIMEDOUT) {
            respawn_missing(p);
            continue;
        }
        for (size_t off = 0;
             n > 0 && off + sizeof(struct res_msg) <= (size_t)n;) {
            struct res_msg m;
            memcpy(&m, pp->resbuf + off, sizeof m);
            off += sizeof m;
            if (m.bytes > (size_t)n - off)
                break; /* cannot happen: workers write whole segments */
            if (m.type == R_DEATH)
                on_death(p, m.worker);
            else
                on_result(p, &m, pp->resbuf + off);
            off += m.bytes;
        }
    }

    /* Every worker is gone: fail what they still held. */
    pthread_mutex_lock(&p->mu);
    int err = p->terminated ? WEFT_ECLOSED : WEFT_EBROKEN;
    for (int i = 0; i < pp->nslots; i++) {
        if (pp->recs[i].task == NULL)
            continue;
        struct weft__task *t = slot_take(pp, i);
        pthread_mutex_unlock(&p->mu);
        weft__task_fail(t, err, 0);
        task_done(p, t);
        pthread_mutex_lock(&p->mu);
    }
    pp->collector_done = true;
    pthread_cond_broadcast(&pp->done_cv);
    pthread_mutex_unlock(&p->mu);
    uint64_t one = 1;
    ssize_t wr = write(pp->evfd, &one, sizeof one);
    (void)wr;
    return NULL;
}

/* ---- the monitor ------------------------------------------------------------
 */

static void check_deadlines(struct ppool *pp)
{
    int64_t now = weft_now_ns();
    for (int i = 0; i < pp->nslots; i++) {
        struct pslot *s = &pp->slots[i];
        uint64_t st = atomic_load(&s->state);
        if (ST_STATE(st) != S_RUNNING)
            continue;
        int64_t dl = atomic_load(&s->deadline);
        if (dl == 0 || now < dl)
            continue;
        uint64_t killed = ST(ST_GEN(st), ST_WORKER(st), S_KILLED);
        if (!atomic_compare_exchange_strong(&s->state, &st, killed))
            continue;
        int w = ST_WORKER(st);
        pthread_mutex_lock(&pp->wmu);
        if (w < pp->p->o.workers && pp->workers[w].proc != NULL)
            weft_process_kill(pp->workers[w].proc);
        pthread_mutex_unlock(&pp->wmu);
    }
}

static void *monitor_main(void *arg)
{
    struct ppool *pp = arg;
    pthread_setname_np(pthread_self(), "weft-monitor");
    for (;;) {
        struct epoll_event evs[16];
        int timeout = atomic_load(&pp->deadline_tasks) > 0 ? 10 : -1;
        int n = epoll_wait(pp->epfd, evs, 16, timeout);
        for (int k = 0; k < n; k++) {
            if (evs[k].data.u64 == UINT64_MAX)
                return NULL;
            if (evs[k].data.u64 == UINT64_MAX - 1) {
                uint64_t v;
                ssize_t rd = read(pp->wakefd, &v, sizeof v);
                (void)rd;
                continue;
            }
            int w = (int)evs[k].data.u64;
            pthread_mutex_lock(&pp->wmu);
            weft_process *proc = pp->workers[w].proc;
            if (proc != NULL)
                epoll_ctl(pp->epfd, EPOLL_CTL_DEL, proc->child.pidfd, NULL);
            pthread_mutex_unlock(&pp->wmu);
            struct res_msg m = {.type = R_DEATH, .worker = w};
            weft_queue_put(pp->resq, &m, sizeof m, -1);
        }
        if (atomic_load(&pp->deadline_tasks) > 0)
            check_deadlines(pp);
    }
}

/* ---- the backend
 * ------------------------------------------------------------- */

static void pp_release(struct ppool *pp)
{
    if (pp->epfd >= 0)
        close(pp->epfd);
    if (pp->evfd >= 0)
        close(pp->evfd);
    if (pp->wakefd >= 0)
        close(pp->wakefd);
    weft_arena_close(pp->arena); /* the queues and slots live in it */
    pthread_mutex_destroy(&pp->wmu);
    pthread_cond_destroy(&pp->done_cv);
    free(pp->recs);
    free(pp->free_slots);
    free(pp->workers);
    free(pp->resbuf);
    free(pp);
}

static int pp_start(weft_pool *p)
{
    const weft_pool_opts *o = &p->o;
    int nw = o->workers;
    struct ppool *pp = calloc(1, sizeof *pp);
    if (pp == NULL)
        return -ENOMEM;
    pp->p = p;
    pp->epfd = pp->evfd = pp->wakefd = -1;
    pthread_mutex_init(&pp->wmu, NULL);
    weft__cond_init_mono(&pp->done_cv);
    /* Enough tasks in flight that workers rarely find the queue empty
     * (each empty wait costs a futex sleep and wake). */
    pp->nslots = 16 * nw + 2;
    size_t call_msg_max = sizeof(struct call_msg) + o->max_arg;
    size_t call_bytes = (size_t)(pp->nslots + 2) * (call_msg_max + 64);
    size_t call_cap = 4 * (call_msg_max + 64);
    if (call_cap < (4u << 20))
        call_cap = 4u << 20;
    if (call_bytes > call_cap)
        call_bytes = call_cap; /* the rest waits in the parent's list */
    /* A report holds up to FLUSH_BYTES of records plus one record. */
    pp->res_cap = sizeof(struct res_msg) + WEFT__POOL_FLUSH_BYTES +
                  weft__rec_size(o->max_result) + 64;
    size_t res_bytes = 4 * pp->res_cap;
    if (res_bytes < (1u << 20))
        res_bytes = 1u << 20;
    size_t slot_bytes = (size_t)pp->nslots * sizeof(struct pslot);
    /* Rings are rounded up to powers of two: room for twice the bytes. */
    size_t arena = 2 * (call_bytes + res_bytes) + slot_bytes +
                   (size_t)nw * (sizeof(int) + pp->res_cap + 256) +
                   (256u << 10);
    pp->recs = calloc((size_t)pp->nslots, sizeof *pp->recs);
    pp->free_slots = calloc((size_t)pp->nslots, sizeof *pp->free_slots);
    for (int i = 0; pp->free_slots != NULL && i < pp->nslots; i++)
        pp->free_slots[pp->nfree++] = pp->nslots - 1 - i;
    pp->workers = calloc((size_t)nw, sizeof *pp->workers);
    pp->resbuf = malloc(pp->res_cap);
    int rc = -ENOMEM;
    if (pp->recs == NULL || pp->workers == NULL || pp->resbuf == NULL ||
        pp->free_slots == NULL)
        goto fail;
    rc = weft_arena_create(&pp->arena, arena);
    if (rc < 0)
        goto fail;
    weft_queue_opts qo = {.max_bytes = call_bytes, .max_msg = call_msg_max};
    if ((rc = weft_queue_create(&pp->callq, pp->arena, &qo)) < 0)
        goto fail;
    qo = (weft_queue_opts){.max_bytes = res_bytes, .max_msg = pp->res_cap};
    if ((rc = weft_queue_create(&pp->resq, pp->arena, &qo)) < 0)
        goto fail;
    void *mem;
    if ((rc = weft_arena_alloc(pp->arena, slot_bytes, &mem)) < 0)
        goto fail;
    pp->slots = mem;
    if ((rc = weft_arena_alloc(pp->arena, (size_t)nw * sizeof(int), &mem)) < 0)
        goto fail;
    pp->init_failed = mem;
    for (int w = 0; w < nw; w++) {
        if ((rc = weft_arena_alloc(
                 pp->arena, sizeof(struct wpend) + pp->res_cap, &mem)) < 0)
            goto fail;
        pp->workers[w].pend = mem;
        pp->workers[w].pend->cap = (uint32_t)pp->res_cap;
    }
    pp->epfd = epoll_create1(EPOLL_CLOEXEC);
    pp->evfd = eventfd(0, EFD_CLOEXEC);
    pp->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (pp->epfd < 0 || pp->evfd < 0 || pp->wakefd < 0) {
        rc = -errno;
        goto fail;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = UINT64_MAX};
    struct epoll_event wev = {.events = EPOLLIN, .data.u64 = UINT64_MAX - 1};
    if (epoll_ctl(pp->epfd, EPOLL_CTL_ADD, pp->evfd, &ev) < 0 ||
        epoll_ctl(pp->epfd, EPOLL_CTL_ADD, pp->wakefd, &wev) < 0) {
        rc = -errno;
        goto fail;
    }
    p->impl = pp;
    for (int w = 0; w < nw; w++) {
        pp->workers[w].pp = pp;
        pp->workers[w].index = w;
        rc = spawn_worker(pp, w);
        if (rc < 0)
            goto fail_workers;
    }
    /* The threads start after the first fork, so the workers are copies
     * of a program that runs no pool threads. */
    if ((rc = -pthread_create(&pp->monitor, NULL, monitor_main, pp)) < 0)
        goto fail_workers;
    if ((rc = -pthread_create(&pp->collector, NULL, collector_main, p)) < 0) {
        uint64_t one = 1;
        ssize_t wr = write(pp->evfd, &one, sizeof one);
        (void)wr;
        pthread_join(pp->monitor, NULL);
        goto fail_workers;
    }
    pp->threads_started = true;
    return 0;

fail_workers:
    kill_all(pp);
    for (int w = 0; w < nw; w++) {
        weft_process *proc = pp->workers[w].proc;
        if (proc != NULL) {
            weft_process_join(proc, -1);
            weft_process_destroy(proc);
        }
    }
fail:
    p->impl = NULL;
    pp_release(pp);
    return rc;
}

static void pp_drain(weft_pool *p)
{
    struct ppool *pp = p->impl;
    /* Workers take what is left, then find the queue closed and exit. */
    weft_queue_close(pp->callq);
}

static void pp_terminate(weft_pool *p)
{
    struct ppool *pp = p->impl;
    weft_queue_close(pp->callq);
    kill_all(pp);
}

static int pp_join(weft_pool *p, weft_deadline d)
{
    struct ppool *pp = p->impl;
    if (pp->threads_started && pthread_equal(pthread_self(), pp->collector))
        return -EDEADLK;
    pthread_mutex_lock(&p->mu);
    while (!pp->collector_done) {
        if (weft__cond_wait_until(&pp->done_cv, &p->mu, d) < 0 &&
            !pp->collector_done) {
            pthread_mutex_unlock(&p->mu);
            return -ETIMEDOUT;
        }
    }
    bool join = !pp->threads_joined;
    pp->threads_joined = true;
    pthread_mutex_unlock(&p->mu);
    if (join) {
        pthread_join(pp->collector, NULL);
        pthread_join(pp->monitor, NULL);
    }
    return 0;
}

static void pp_free(weft_pool *p)
{
    struct ppool *pp = p->impl;
    if (pp != NULL)
        pp_release(pp);
}

const struct weft__backend weft__process_backend = {
    .start = pp_start,
    .kick = pp_kick,
    .cancel_handed = pp_cancel_handed,
    .cancel_all_handed = pp_cancel_all_handed,
    .drain = pp_drain,
    .terminate = pp_terminate,
    .join = pp_join,
    .free = pp_free,
};
