/* pool.c - distributed pools over Redis (see weft/redis.h): tasks
 * registered by name, workers that serve them, submitters that get
 * weft_futures.
 *
 * Keys, for a pool named P:
 *   weft:p:{P}:t:<task>   one stream per task name, group "weft"; entry
 *                         {a: argument, r: result list, i: future id,
 *                         m: max attempts}
 *   weft:p:{P}:n:<task>   exists while a live worker serves <task> (a
 *                         heartbeat refreshes its expiry)
 *   weft:p:{P}:r:<sub>    the result list of one submitter; records of
 *                         id (8 bytes), error, status (4 each, little
 *                         endian), then the result bytes
 *
 * A worker reads the streams of the names it knows in one XREADGROUP, so
 * a name nobody serves is never taken by a worker that cannot run it. It
 * publishes a result with one script: XACK, and only if the entry was
 * still pending, XDEL + LPUSH of the record - so a result reaches the
 * submitter at most once even if two workers ran the task. While a
 * worker holds tasks (the one it runs and the others its read brought),
 * its heartbeat thread re-claims them (XCLAIM JUSTID, which resets their
 * idle time without counting a delivery), so only the tasks of a dead
 * worker (or one whose connection is lost) become idle for visibility_ms;
 * any worker then
 * claims it (XAUTOCLAIM), and the delivery count Redis keeps tells how
 * many attempts it had: past max_attempts it is published as failed
 * (WEFT_EWORKERDIED) instead of run.
 *
 * The submitter's collector thread waits on its result list (BRPOP, then
 * RPOP in batches), finishes futures by id, and fails a task whose name
 * no live worker registered once it waited unknown_task_ms (-ENOSYS).
 *
 * Lock order: the pool's mu, then a future's (weft__future_finish is
 * called with no lock held). */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pool/pool_int.h"
#include "redis/redis_int.h"

#define GROUP          "weft"
#define ID_MAX         48
#define TASK_NAME_MAX  100
#define REC_HDR        16
#define DEFAULT_RESULT (64u * 1024)

static size_t slen(const char *s)
{
    return strlen(s);
}

static bool task_name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > TASK_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-' ||
              c == ':'))
            return false;
    }
    return true;
}

static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* ---- the registry -------------------------------------------------------- */

struct reg {
    char name[TASK_NAME_MAX + 1];
    weft_task_fn fn;
};

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct reg *regs;
static size_t nregs, capregs;

int weft_redis_task_register(const char *name, weft_task_fn fn)
{
    if (!task_name_ok(name) || fn == NULL)
        return -EINVAL;
    pthread_mutex_lock(&reg_mu);
    for (size_t i = 0; i < nregs; i++) {
        if (strcmp(regs[i].name, name) == 0) {
            int rc = regs[i].fn == fn ? 0 : -EEXIST;
            pthread_mutex_unlock(&reg_mu);
            return rc;
        }
    }
    if (nregs == capregs) {
        size_t n = capregs ? capregs * 2 : 16;
        struct reg *r = realloc(regs, n * sizeof *r);
        if (r == NULL) {
            pthread_mutex_unlock(&reg_mu);
            return -ENOMEM;
        }
        regs = r;
        capregs = n;
    }
    snprintf(regs[nregs].name, sizeof regs[nregs].name, "%s", name);
    regs[nregs].fn = fn;
    nregs++;
    pthread_mutex_unlock(&reg_mu);
    return 0;
}

/* ---- scripts ------------------------------------------------------------- */

/* KEYS: stream, result list. ARGV: entry id, record. */
static struct weft__rscript s_done = {
    "local n = redis.call('XACK', KEYS[1], 'weft', ARGV[1])\n"
    "if n == 1 then\n"
    "  redis.call('XDEL', KEYS[1], ARGV[1])\n"
    "  redis.call('LPUSH', KEYS[2], ARGV[2])\n"
    "  redis.call('PEXPIRE', KEYS[2], 86400000)\n"
    "end\n"
    "return n\n",
    ""};

static int ensure_group(redisContext *c, const struct weft__rurl *u,
                        const char *key)
{
    const char *av[] = {"XGROUP", "CREATE", key, GROUP, "0", "MKSTREAM"};
    size_t al[] = {6, 6, slen(key), 4, 1, 8};
    redisReply *r;
    int rc = weft__redis_cmd(c, u, 0, &r, 6, av, al);
    if (rc == 0)
        freeReplyObject(r);
    /* BUSYGROUP: it exists (mapped to -EPROTO: check the text instead) */
    if (rc == -EPROTO)
        rc = 0;
    return rc;
}

/* ---- the worker ---------------------------------------------------------- */

struct worker {
    struct weft__rurl u;
    struct reg *tasks;
    size_t n;
    char (*streams)[WEFT__REDIS_KEY_MAX];
    char (*alive)[WEFT__REDIS_KEY_MAX];
    char rprefix[WEFT__REDIS_KEY_MAX];
    char consumer[128];
    size_t max_result;
    int hb_ms;
    /* the tasks received and not finished (one read brings at most one
     * per name, a claim one more), re-claimed by the heartbeat */
    pthread_mutex_t mu;
    int *held_idx; /* stream index */
    char (*held_id)[ID_MAX];
    size_t nheld;
    atomic_bool stop_hb;
};

static void hold(struct worker *w, int idx, const char *id)
{
    pthread_mutex_lock(&w->mu);
    if (w->nheld < w->n + 1) {
        w->held_idx[w->nheld] = idx;
        snprintf(w->held_id[w->nheld], ID_MAX, "%s", id);
        w->nheld++;
    }
    pthread_mutex_unlock(&w->mu);
}

static void unhold(struct worker *w, const char *id)
{
    pthread_mutex_lock(&w->mu);
    for (size_t i = 0; i < w->nheld; i++) {
        if (strcmp(w->held_id[i], id) == 0) {
            w->nheld--;
            w->held_idx[i] = w->held_idx[w->nheld];
            memcpy(w->held_id[i], w->held_id[w->nheld], ID_MAX);
            break;
        }
    }
    pthread_mutex_unlock(&w->mu);
}

static void *heartbeat(void *arg)
{
    struct worker *w = arg;
    redisContext *c = NULL;
    char px[16];

    snprintf(px, sizeof px, "%d", w->hb_ms * 3 + 1000);
    while (!atomic_load(&w->stop_hb)) {
        if (c == NULL && weft__redis_connect(&w->u, &c) < 0)
            c = NULL;
        if (c != NULL) {
            for (size_t i = 0; i < w->n && c->err == 0; i++) {
                redisReply *r;
                const char *av[] = {"SET", w->alive[i], w->consumer, "PX", px};
                size_t al[] = {3, slen(w->alive[i]), slen(w->consumer), 2,
                               slen(px)};
                if (weft__redis_cmd(c, &w->u, 0, &r, 5, av, al) == 0)
                    freeReplyObject(r);
            }
            pthread_mutex_lock(&w->mu);
            size_t nh = w->nheld;
            int idx[nh + 1];
            char id[nh + 1][ID_MAX];
            memcpy(idx, w->held_idx, nh * sizeof idx[0]);
            memcpy(id, w->held_id, nh * sizeof id[0]);
            pthread_mutex_unlock(&w->mu);
            for (size_t i = 0; i < nh && c->err == 0; i++) {
                redisReply *r;
                const char *av[] = {"XCLAIM", w->streams[idx[i]],
                                    GROUP,    w->consumer,
                                    "0",      id[i],
                                    "JUSTID"};
                size_t al[] = {6, slen(w->streams[idx[i]]),
                               4, slen(w->consumer),
                               1, slen(id[i]),
                               6};
                if (weft__redis_cmd(c, &w->u, 0, &r, 7, av, al) == 0)
                    freeReplyObject(r);
            }
            if (c->err) {
                weft__redis_free(c);
                c = NULL;
            }
        }
        for (int t = 0; t < w->hb_ms && !atomic_load(&w->stop_hb); t += 10)
            weft_sleep_ms(10);
    }
    if (c != NULL)
        weft__redis_free(c);
    return NULL;
}

static const char *field(const redisReply *f, char name, size_t *len)
{
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        const redisReply *k = f->element[i], *v = f->element[i + 1];
        if (k->type == REDIS_REPLY_STRING && k->len == 1 && k->str[0] == name &&
            v->type == REDIS_REPLY_STRING) {
            if (len)
                *len = v->len;
            return v->str;
        }
    }
    return NULL;
}

/* Publish an outcome; retried across lost connections while the worker
 * runs (a result is never dropped because Redis blinked). */
static int publish(struct worker *w, redisContext **cp, int idx, const char *id,
                   const char *rkey, uint64_t fid, int error, int status,
                   const void *data, size_t len, volatile int *stop)
{
    unsigned char *rec = malloc(REC_HDR + len + 1);
    if (rec == NULL)
        return -ENOMEM;
    put_le(rec, fid, 8);
    put_le(rec + 8, (uint32_t)error, 4);
    put_le(rec + 12, (uint32_t)status, 4);
    if (len)
        memcpy(rec + REC_HDR, data, len);
    const char *av[] = {w->streams[idx], rkey, id, (const char *)rec};
    size_t al[] = {slen(w->streams[idx]), slen(rkey), slen(id), REC_HDR + len};
    int rc;
    for (;;) {
        if (*cp == NULL) {
            rc = weft__redis_connect(&w->u, cp);
            if (rc < 0)
                *cp = NULL;
        }
        if (*cp != NULL) {
            redisReply *r;
            rc = weft__redis_script(*cp, &w->u, &s_done, 2, 4, av, al, &r);
            if (rc == 0) {
                freeReplyObject(r);
                break;
            }
            if ((*cp)->err == 0 && rc != -EBUSY)
                break; /* an error reply: nothing to retry */
            weft__redis_free(*cp);
            *cp = NULL;
        }
        if (stop && *stop)
            break;
        weft_sleep_ms(100);
    }
    free(rec);
    return rc;
}

/* Run (or fail) one entry of stream idx delivered for the count-th time. */
static int process(struct worker *w, redisContext **cp, int idx,
                   const redisReply *e, long long count, volatile int *stop)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING)
        return -EPROTO;
    const char *id = e->element[0]->str;
    const redisReply *f = e->element[1];
    size_t alen = 0;
    const char *arg = NULL, *rkey = NULL, *fid = NULL, *max = NULL;
    if (f->type == REDIS_REPLY_ARRAY) {
        arg = field(f, 'a', &alen);
        rkey = field(f, 'r', NULL);
        fid = field(f, 'i', NULL);
        max = field(f, 'm', NULL);
    }
    if (arg == NULL || rkey == NULL || fid == NULL || max == NULL ||
        strncmp(rkey, w->rprefix, strlen(w->rprefix)) != 0) {
        /* deleted while pending (nil fields), or not ours: drop it */
        redisReply *r;
        const char *av[] = {"XACK", w->streams[idx], GROUP, id};
        size_t al[] = {4, slen(w->streams[idx]), 4, slen(id)};
        if (weft__redis_cmd(*cp, &w->u, 0, &r, 4, av, al) == 0)
            freeReplyObject(r);
        return 0;
    }
    uint64_t fidv = strtoull(fid, NULL, 10);
    long long maxv = strtoll(max, NULL, 10);
    if (count > maxv)
        return publish(w, cp, idx, id, rkey, fidv, WEFT_EWORKERDIED, 0, NULL, 0,
                       stop);
    weft_buf res;
    weft_buf_init(&res, w->max_result);
    int st = w->tasks[idx].fn(arg, alen, &res);
    int rc =
        publish(w, cp, idx, id, rkey, fidv, 0, st, res.data, res.len, stop);
    weft_buf_free(&res);
    return rc < 0 ? rc : 1;
}

/* Claim one task idle past the visibility timeout, from any stream. */
static int claim_one(struct worker *w, redisContext **cp, volatile int *stop)
{
    char vis[16];
    int ran = 0;

    snprintf(vis, sizeof vis, "%d", w->u.visibility_ms);
    for (size_t i = 0; i < w->n && *cp; i++) {
        const char *av[] = {"XAUTOCLAIM", w->streams[i], GROUP,   w->consumer,
                            vis,          "0-0",         "COUNT", "1"};
        size_t al[] = {
            10, slen(w->streams[i]), 4, slen(w->consumer), slen(vis), 3, 5, 1};
        redisReply *r;
        int rc = weft__redis_cmd(*cp, &w->u, 0, &r, 8, av, al);
        if (rc == -ENOENT) {
            rc = ensure_group(*cp, &w->u, w->streams[i]);
            continue;
        }
        if (rc < 0)
            return rc;
        if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2 &&
            r->element[1]->type == REDIS_REPLY_ARRAY &&
            r->element[1]->elements > 0) {
            const redisReply *e = r->element[1]->element[0];
            long long count = 1;
            redisReply *p;
            const char *id = e->element[0]->str;
            const char *pv[] = {"XPENDING", w->streams[i], GROUP, id, id, "1"};
            size_t pl[] = {8, slen(w->streams[i]), 4, slen(id), slen(id), 1};
            if (weft__redis_cmd(*cp, &w->u, 0, &p, 6, pv, pl) == 0) {
                if (p->type == REDIS_REPLY_ARRAY && p->elements == 1 &&
                    p->element[0]->type == REDIS_REPLY_ARRAY &&
                    p->element[0]->elements == 4)
                    count = p->element[0]->element[3]->integer;
                freeReplyObject(p);
            }
            hold(w, (int)i, id);
            rc = process(w, cp, (int)i, e, count, stop);
            unhold(w, id);
            if (rc > 0)
                ran++;
        }
        freeReplyObject(r);
    }
    return ran;
}

int weft_redis_worker_run(const char *url, const weft_redis_worker_opts *opts)
{
    weft_redis_worker_opts o = {0};
    struct worker w;
    redisContext *c = NULL;
    pthread_t hb;
    int rc;

    if (opts)
        o = *opts;
    memset(&w, 0, sizeof w);
    rc = weft__redis_parse_url(url, &w.u);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&reg_mu);
    w.n = nregs;
    w.tasks = w.n ? malloc(w.n * sizeof *w.tasks) : NULL;
    if (w.tasks)
        memcpy(w.tasks, regs, w.n * sizeof *w.tasks);
    pthread_mutex_unlock(&reg_mu);
    if (w.n == 0)
        return -EINVAL; /* no task registered: nothing to serve */
    w.streams = calloc(w.n, sizeof *w.streams);
    w.alive = calloc(w.n, sizeof *w.alive);
    if (w.tasks == NULL || w.streams == NULL || w.alive == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < w.n; i++) {
        char sfx[TASK_NAME_MAX + 8];
        snprintf(sfx, sizeof sfx, ":t:%s", w.tasks[i].name);
        weft__redis_key(w.streams[i], "p", w.u.name, sfx);
        snprintf(sfx, sizeof sfx, ":n:%s", w.tasks[i].name);
        weft__redis_key(w.alive[i], "p", w.u.name, sfx);
    }
    weft__redis_key(w.rprefix, "p", w.u.name, ":r:");
    weft__redis_consumer_name(w.consumer, sizeof w.consumer);
    w.max_result = o.max_result ? o.max_result : DEFAULT_RESULT;
    w.hb_ms = w.u.visibility_ms / 3;
    if (w.hb_ms > 1000)
        w.hb_ms = 1000;
    if (w.hb_ms < 10)
        w.hb_ms = 10;
    w.held_idx = calloc(w.n + 1, sizeof *w.held_idx);
    w.held_id = calloc(w.n + 1, sizeof *w.held_id);
    if (w.held_idx == NULL || w.held_id == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    rc = weft__redis_connect(&w.u, &c);
    if (rc == 0)
        rc = weft__redis_check_commands(c, &w.u);
    for (size_t i = 0; rc == 0 && i < w.n; i++)
        rc = ensure_group(c, &w.u, w.streams[i]);
    if (rc < 0)
        goto out;
    pthread_mutex_init(&w.mu, NULL);
    atomic_init(&w.stop_hb, false);
    if (pthread_create(&hb, NULL, heartbeat, &w) != 0) {
        pthread_mutex_destroy(&w.mu);
        rc = -EAGAIN;
        goto out;
    }

    /* XREADGROUP GROUP weft <me> COUNT 1 BLOCK 100 STREAMS s... >... */
    const char *head[] = {"XREADGROUP", "GROUP", GROUP,  w.consumer,
                          "COUNT",      "1",     "BLOCK"};
    size_t argc = 9 + 2 * w.n;
    const char **av = calloc(argc, sizeof *av);
    size_t *al = calloc(argc, sizeof *al);
    if (av == NULL || al == NULL) {
        free(av);
        free(al);
        rc = -ENOMEM;
        goto stop;
    }
    for (int i = 0; i < 7; i++)
        av[i] = head[i];
    av[7] = "100";
    av[8] = "STREAMS";
    for (size_t i = 0; i < w.n; i++) {
        av[9 + i] = w.streams[i];
        av[9 + w.n + i] = ">";
    }
    for (size_t i = 0; i < argc; i++)
        al[i] = slen(av[i]);

    size_t done = 0;
    int64_t last_task = weft_now_ns(), next_claim = 0;
    int claim_ms = w.u.visibility_ms / 2 < 1000 ? w.u.visibility_ms / 2 : 1000;
    rc = 0;
    for (;;) {
        if ((o.stop && *o.stop) || (o.max_tasks && done >= o.max_tasks))
            break;
        if (o.idle_exit_ms > 0 &&
            weft_now_ns() - last_task > (int64_t)o.idle_exit_ms * 1000000)
            break;
        if (c == NULL) {
            if (weft__redis_connect(&w.u, &c) < 0) {
                c = NULL;
                weft_sleep_ms(100);
                continue;
            }
            for (size_t i = 0; i < w.n; i++)
                (void)ensure_group(c, &w.u, w.streams[i]);
        }
        if (weft_now_ns() >= next_claim) {
            int n = claim_one(&w, &c, o.stop);
            next_claim = weft_now_ns() + (int64_t)claim_ms * 1000000;
            if (n > 0) {
                done += (size_t)n;
                last_task = weft_now_ns();
                continue;
            }
            if (c && c->err) {
                weft__redis_free(c);
                c = NULL;
                continue;
            }
        }
        redisReply *r;
        int e = weft__redis_cmd(c, &w.u, 100, &r, (int)argc, av, al);
        if (e == -ENOENT) {
            for (size_t i = 0; i < w.n; i++)
                (void)ensure_group(c, &w.u, w.streams[i]);
            continue;
        }
        if (e < 0) {
            if (c->err) {
                weft__redis_free(c);
                c = NULL;
            }
            weft_sleep_ms(100);
            continue;
        }
        /* Hold everything this read brought first (the heartbeat keeps
         * them all), then run them one by one. */
        for (int pass = 0; pass < 2 && r->type == REDIS_REPLY_ARRAY; pass++) {
            for (size_t s = 0; s < r->elements; s++) {
                const redisReply *sr = r->element[s];
                if (sr->type != REDIS_REPLY_ARRAY || sr->elements != 2 ||
                    sr->element[0]->type != REDIS_REPLY_STRING ||
                    sr->element[1]->type != REDIS_REPLY_ARRAY)
                    continue;
                int idx = -1;
                for (size_t i = 0; i < w.n; i++)
                    if (strcmp(sr->element[0]->str, w.streams[i]) == 0)
                        idx = (int)i;
                if (idx < 0)
                    continue;
                for (size_t k = 0; k < sr->element[1]->elements; k++) {
                    const redisReply *ent = sr->element[1]->element[k];
                    if (ent->type != REDIS_REPLY_ARRAY || ent->elements < 1 ||
                        ent->element[0]->type != REDIS_REPLY_STRING)
                        continue;
                    const char *id = ent->element[0]->str;
                    if (pass == 0) {
                        hold(&w, idx, id);
                        continue;
                    }
                    if (c != NULL && process(&w, &c, idx, ent, 1, o.stop) > 0) {
                        done++;
                        last_task = weft_now_ns();
                    }
                    unhold(&w, id);
                }
            }
        }
        freeReplyObject(r);
    }
    free(av);
    free(al);
    rc = done > 0x7fffffff ? 0x7fffffff : (int)done;
stop:
    atomic_store(&w.stop_hb, true);
    pthread_join(hb, NULL);
    pthread_mutex_destroy(&w.mu);
out:
    if (c != NULL)
        weft__redis_free(c);
    free(w.tasks);
    free(w.streams);
    free(w.alive);
    free(w.held_idx);
    free(w.held_id);
    return rc;
}

/* ---- the submitter ------------------------------------------------------- */

#define BUCKETS 4096

struct pent {
    struct pent *next;
    uint64_t id;
    weft_future *f; /* the pool's reference */
    char name[TASK_NAME_MAX + 1];
    char entry[ID_MAX]; /* stream entry id, once known */
    int64_t since;      /* ns, submitted */
    bool known;         /* a worker served the name when looked at */
};

struct weft_redis_pool {
    struct weft__rurl u;
    struct weft__rconns cs;
    pthread_mutex_t mu;
    char rkey[WEFT__REDIS_KEY_MAX];
    uint64_t next_id;
    struct pent *tab[BUCKETS];
    size_t count;
    int max_attempts, unknown_ms;
    size_t max_arg;
    pthread_t collector;
    atomic_bool stop;
    bool closed;
};

static void stream_key(const weft_redis_pool *p, const char *name, char *buf)
{
    char sfx[TASK_NAME_MAX + 8];
    snprintf(sfx, sizeof sfx, ":t:%s", name);
    weft__redis_key(buf, "p", p->u.name, sfx);
}

/* Remove and return the entry for id (pool mu held), or NULL. */
static struct pent *take_pent(weft_redis_pool *p, uint64_t id)
{
    struct pent **pp = &p->tab[id % BUCKETS];
    for (; *pp; pp = &(*pp)->next) {
        if ((*pp)->id == id) {
            struct pent *e = *pp;
            *pp = e->next;
            p->count--;
            return e;
        }
    }
    return NULL;
}

static void finish_pent(struct pent *e, int error, int status, const void *data,
                        size_t len)
{
    weft__future_finish(e->f, error, status, (void *)data, len, false);
    weft_future_release(e->f);
    free(e);
}

static void on_record(weft_redis_pool *p, const char *s, size_t n)
{
    if (n < REC_HDR)
        return;
    const unsigned char *u = (const unsigned char *)s;
    uint64_t id = get_le(u, 8);
    int error = (int)(uint32_t)get_le(u + 8, 4);
    int status = (int)(uint32_t)get_le(u + 12, 4);
    pthread_mutex_lock(&p->mu);
    struct pent *e = take_pent(p, id);
    pthread_mutex_unlock(&p->mu);
    if (e != NULL)
        finish_pent(e, error, status, u + REC_HDR, n - REC_HDR);
}

/* Fail tasks no live worker serves once they waited unknown_ms. */
static void check_unknown(weft_redis_pool *p, redisContext *c)
{
    int64_t now = weft_now_ns(), lim = (int64_t)p->unknown_ms * 1000000;
    struct cand {
        uint64_t id;
        char name[TASK_NAME_MAX + 1];
        char entry[ID_MAX];
    } cand[64];
    size_t nc = 0;

    pthread_mutex_lock(&p->mu);
    for (size_t b = 0; b < BUCKETS && nc < 64; b++)
        for (struct pent *e = p->tab[b]; e && nc < 64; e = e->next)
            if (!e->known && now - e->since >= lim && e->entry[0]) {
                cand[nc].id = e->id;
                memcpy(cand[nc].name, e->name, sizeof cand[nc].name);
                memcpy(cand[nc].entry, e->entry, sizeof cand[nc].entry);
                nc++;
            }
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0; i < nc; i++) {
        char key[WEFT__REDIS_KEY_MAX], sfx[TASK_NAME_MAX + 8];
        redisReply *r;
        snprintf(sfx, sizeof sfx, ":n:%s", cand[i].name);
        weft__redis_key(key, "p", p->u.name, sfx);
        if (weft__redis_cmd(c, &p->u, 0, &r, 2, (const char *[]){"EXISTS", key},
                            (size_t[]){6, slen(key)}) < 0)
            return;
        bool alive = r->type == REDIS_REPLY_INTEGER && r->integer > 0;
        freeReplyObject(r);
        if (alive) {
            pthread_mutex_lock(&p->mu);
            for (struct pent *e = p->tab[cand[i].id % BUCKETS]; e; e = e->next)
                if (e->id == cand[i].id)
                    e->known = true;
            pthread_mutex_unlock(&p->mu);
            continue;
        }
        /* Nobody serves it: withdraw it, so no worker that comes later
         * runs a task whose future already failed. */
        stream_key(p, cand[i].name, key);
        if (weft__redis_cmd(c, &p->u, 0, &r, 3,
                            (const char *[]){"XDEL", key, cand[i].entry},
                            (size_t[]){4, slen(key), slen(cand[i].entry)}) < 0)
            return;
        bool withdrawn = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
        freeReplyObject(r);
        if (!withdrawn)
            continue; /* taken meanwhile: its result will come */
        pthread_mutex_lock(&p->mu);
        struct pent *e = take_pent(p, cand[i].id);
        pthread_mutex_unlock(&p->mu);
        if (e != NULL)
            finish_pent(e, -ENOSYS, 0, NULL, 0);
    }
}

static void *collector(void *arg)
{
    weft_redis_pool *p = arg;
    redisContext *c = NULL;
    int64_t next_check = 0;

    while (!atomic_load(&p->stop)) {
        if (c == NULL && weft__redis_connect(&p->u, &c) < 0) {
            c = NULL;
            weft_sleep_ms(100);
            continue;
        }
        redisReply *r;
        int rc = weft__redis_cmd(c, &p->u, 100, &r, 3,
                                 (const char *[]){"BRPOP", p->rkey, "0.1"},
                                 (size_t[]){5, slen(p->rkey), 3});
        if (rc == 0) {
            bool got = r->type == REDIS_REPLY_ARRAY && r->elements == 2;
            if (got)
                on_record(p, r->element[1]->str, r->element[1]->len);
            freeReplyObject(r);
            /* then whatever else is there, in batches */
            while (got) {
                rc = weft__redis_cmd(c, &p->u, 0, &r, 3,
                                     (const char *[]){"RPOP", p->rkey, "256"},
                                     (size_t[]){4, slen(p->rkey), 3});
                if (rc < 0)
                    break;
                got = r->type == REDIS_REPLY_ARRAY && r->elements > 0;
                for (size_t i = 0; got && i < r->elements; i++)
                    on_record(p, r->element[i]->str, r->element[i]->len);
                freeReplyObject(r);
            }
        }
        if (c->err) {
            weft__redis_free(c);
            c = NULL;
            weft_sleep_ms(100);
            continue;
        }
        if (weft_now_ns() >= next_check) {
            check_unknown(p, c);
            next_check = weft_now_ns() + 100 * 1000000LL;
        }
    }
    if (c != NULL)
        weft__redis_free(c);
    return NULL;
}

int weft_redis_pool_open(weft_redis_pool **out, const char *url,
                         const weft_redis_pool_opts *opts)
{
    weft_redis_pool_opts o = {0};
    redisContext *c;
    char sfx[160], me[128];
    int rc;

    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    if (opts)
        o = *opts;
    if (o.max_attempts < 0 || o.unknown_task_ms < 0)
        return -EINVAL;
    weft_redis_pool *p = calloc(1, sizeof *p);
    if (p == NULL)
        return -ENOMEM;
    rc = weft__redis_parse_url(url, &p->u);
    if (rc < 0) {
        free(p);
        return rc;
    }
    p->max_attempts = o.max_attempts ? o.max_attempts : 3;
    p->unknown_ms = o.unknown_task_ms ? o.unknown_task_ms : 10000;
    weft__redis_consumer_name(me, sizeof me);
    snprintf(sfx, sizeof sfx, ":r:%s", me);
    weft__redis_key(p->rkey, "p", p->u.name, sfx);
    pthread_mutex_init(&p->mu, NULL);
    weft__rconns_init(&p->cs, &p->u);
    rc = weft__redis_connect(&p->u, &c);
    if (rc == 0) {
        rc = weft__redis_check_commands(c, &p->u);
        p->max_arg = weft__redis_bulk_limit(c, &p->u);
        weft__rconns_put(&p->cs, c);
    }
    if (rc == 0 && pthread_create(&p->collector, NULL, collector, p) != 0)
        rc = -EAGAIN;
    if (rc < 0) {
        weft__rconns_fini(&p->cs);
        pthread_mutex_destroy(&p->mu);
        free(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* Submit n tasks pipelined: args[i * size], len size each (n == 1: the
 * one argument). fs[i] get the futures; on error none are kept. */
static int submit_many(weft_redis_pool *p, const char *name, const void *args,
                       size_t size, size_t n, weft_future **fs)
{
    char key[WEFT__REDIS_KEY_MAX], ids[32], max[16];
    redisContext *c;
    int rc;

    if (p == NULL || !task_name_ok(name) || (args == NULL && size > 0) ||
        fs == NULL)
        return -EINVAL;
    if (size > p->max_arg)
        return -EMSGSIZE;
    if (p->cs.pid != getpid())
        return -EINVAL; /* not usable in a forked child */
    stream_key(p, name, key);
    snprintf(max, sizeof max, "%d", p->max_attempts);
    rc = weft__rconns_get(&p->cs, &c);
    if (rc < 0)
        return rc;
    size_t i = 0, sent = 0;
    uint64_t first = 0;
    bool inserted = false;
    struct pent **es = calloc(n ? n : 1, sizeof *es);
    if (es == NULL) {
        weft__rconns_put(&p->cs, c);
        return -ENOMEM;
    }
    pthread_mutex_lock(&p->mu);
    if (p->closed) {
        pthread_mutex_unlock(&p->mu);
        free(es);
        weft__rconns_put(&p->cs, c);
        return WEFT_ECLOSED;
    }
    first = p->next_id + 1;
    p->next_id += n;
    pthread_mutex_unlock(&p->mu);
    for (i = 0; i < n; i++) {
        es[i] = calloc(1, sizeof *es[i]);
        fs[i] = weft__future_new(NULL);
        if (es[i] == NULL || fs[i] == NULL) {
            rc = -ENOMEM;
            break;
        }
        weft__future_ref(fs[i]);
        es[i]->f = fs[i];
        es[i]->id = first + i;
        es[i]->since = weft_now_ns();
        snprintf(es[i]->name, sizeof es[i]->name, "%s", name);
    }
    if (rc == 0) {
        /* in the table before the task exists: its result may come first */
        inserted = true;
        pthread_mutex_lock(&p->mu);
        for (i = 0; i < n; i++) {
            struct pent **b = &p->tab[es[i]->id % BUCKETS];
            es[i]->next = *b;
            *b = es[i];
            p->count++;
        }
        pthread_mutex_unlock(&p->mu);
        /* pipelined in batches of 256 */
        for (sent = 0; sent < n && rc == 0;) {
            size_t k = n - sent < 256 ? n - sent : 256;
            for (size_t j = 0; j < k && rc == 0; j++) {
                size_t at = sent + j;
                snprintf(ids, sizeof ids, "%llu",
                         (unsigned long long)(first + at));
                const char *av[] = {"XADD",
                                    key,
                                    "*",
                                    "a",
                                    size ? (const char *)args + at * size : "",
                                    "r",
                                    p->rkey,
                                    "i",
                                    ids,
                                    "m",
                                    max};
                size_t al[] = {4,        slen(key),     1, 1,         size,
                               1,        slen(p->rkey), 1, slen(ids), 1,
                               slen(max)};
                rc = weft__redis_append(c, 11, av, al);
            }
            for (size_t j = 0; j < k; j++) {
                redisReply *r;
                int e = weft__redis_read(c, &r);
                if (e < 0) {
                    if (rc == 0)
                        rc = e;
                    if (c->err)
                        break;
                    continue;
                }
                /* es[] is not ours any more once in the table (the
                 * collector frees an entry when its result comes): find
                 * it by id */
                uint64_t id = first + sent + j;
                pthread_mutex_lock(&p->mu);
                for (struct pent *pe = p->tab[id % BUCKETS]; pe; pe = pe->next)
                    if (pe->id == id && r->type == REDIS_REPLY_STRING)
                        snprintf(pe->entry, ID_MAX, "%s", r->str);
                pthread_mutex_unlock(&p->mu);
                freeReplyObject(r);
            }
            if (rc == 0)
                sent += k;
        }
    }
    weft__rconns_put(&p->cs, c);
    if (rc < 0) {
        /* Tasks already in Redis (items before sent) may still run; their
         * futures fail here and any late result is dropped. */
        for (i = 0; i < n; i++) {
            if (!inserted && es[i] == NULL)
                break;
            struct pent *e = NULL;
            if (inserted) {
                pthread_mutex_lock(&p->mu);
                e = take_pent(p, first + i);
                pthread_mutex_unlock(&p->mu);
                if (e != NULL)
                    finish_pent(e, rc, 0, NULL, 0);
                /* else: its result came and finished it */
            } else {
                if (es[i]->f != NULL)
                    weft_future_release(es[i]->f);
                free(es[i]);
            }
        }
        for (i = 0; i < n; i++) {
            weft_future_release(fs[i]);
            fs[i] = NULL;
        }
        free(es);
        return rc;
    }
    free(es);
    return 0;
}

int weft_redis_pool_submit(weft_redis_pool *p, const char *name,
                           const void *arg, size_t len, weft_future **out)
{
    weft_future *f = NULL;
    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    int rc = submit_many(p, name, arg, len, 1, &f);
    if (rc == 0)
        *out = f;
    return rc;
}

int weft_redis_pool_map(weft_redis_pool *p, const char *name, const void *args,
                        size_t arg_size, size_t n, void *out, size_t out_size,
                        weft_task_result *res)
{
    if (n == 0)
        return p && task_name_ok(name) ? 0 : -EINVAL;
    if (args == NULL || arg_size == 0 || (out == NULL && out_size > 0))
        return -EINVAL;
    weft_future **fs = calloc(n, sizeof *fs);
    if (fs == NULL)
        return -ENOMEM;
    int rc = submit_many(p, name, args, arg_size, n, fs);
    if (rc < 0) {
        free(fs);
        return rc;
    }
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        int st = 0;
        const void *data = NULL;
        size_t len = 0;
        int e = weft_future_result(fs[i], &st, &data, &len);
        if (res != NULL) {
            res[i].error = e;
            res[i].status = st;
            res[i].len = len;
        }
        if (out != NULL && out_size > 0 && data != NULL)
            memcpy((char *)out + i * out_size, data,
                   len < out_size ? len : out_size);
        if (e != 0 || st != 0)
            failed++;
        weft_future_release(fs[i]);
    }
    free(fs);
    return failed;
}

int weft_redis_pool_close(weft_redis_pool *p)
{
    if (p == NULL)
        return 0;
    pthread_mutex_lock(&p->mu);
    p->closed = true;
    pthread_mutex_unlock(&p->mu);
    atomic_store(&p->stop, true);
    pthread_join(p->collector, NULL);
    for (size_t b = 0; b < BUCKETS; b++) {
        while (p->tab[b] != NULL) {
            struct pent *e = p->tab[b];
            p->tab[b] = e->next;
            finish_pent(e, WEFT_ECLOSED, 0, NULL, 0);
        }
    }
    redisContext *c;
    if (weft__rconns_get(&p->cs, &c) == 0) {
        redisReply *r;
        if (weft__redis_cmd(c, &p->u, 0, &r, 2,
                            (const char *[]){"DEL", p->rkey},
                            (size_t[]){3, slen(p->rkey)}) == 0)
            freeReplyObject(r);
        weft__rconns_put(&p->cs, c);
    }
    weft__rconns_fini(&p->cs);
    pthread_mutex_destroy(&p->mu);
    free(p);
    return 0;
}
