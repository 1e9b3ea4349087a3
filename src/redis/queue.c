/* queue.c - a weft_queue kept in Redis: a stream read by one consumer
 * group (see weft/redis.h and docs/redis.md).
 *
 * Keys, for a queue named N:
 *   weft:q:{N}          the stream; entries {d: message} and at most one
 *                       {c: 1}, the end-of-queue marker added by close
 *   weft:q:{N}:closed   the id of the current marker (exists once closed)
 *   group "weft" on the stream; each handle is one consumer of it.
 *
 * A message got is in the group's pending list under this handle's
 * consumer until it is acknowledged: one plain XACK (a message
 * acknowledged twice is harmless). So the unfinished tasks join() waits
 * for are the messages not delivered yet plus those pending. Acknowledged
 * entries are not deleted one by one (XDEL costs Redis more than the
 * rest of a message's life); the claim tick trims the stream up to the
 * oldest pending entry instead. Messages
 * pending longer than visibility_ms are claimed (XAUTOCLAIM) by whichever
 * consumer looks next: every get looks, at most every claim interval
 * (visibility_ms / 2, at most 1 s), and a consumer waiting in get looks at
 * least that often. qsize counts the entries after the group's last
 * delivered one (Redis 7 keeps that count as the group's lag).
 *
 * Close reaches every consumer without polling: the marker is one entry,
 * so one blocked consumer gets it; that consumer passes it on (a script
 * acknowledges it and appends a new one) before returning WEFT_ECLOSED,
 * which wakes the next blocked consumer, and so on. Messages put before
 * close all precede the marker, so a consumer that sees it has seen the
 * queue drained (except messages pending elsewhere, which a last claim
 * looks for).
 *
 * Lock order: rq.mu, then the connection set's mutex. No lock is held
 * while a command waits on the network. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "queue/queue_int.h"
#include "redis/redis_int.h"

#define ID_MAX 48
#define GROUP  "weft"

struct rq {
    struct weft__queue_head head; /* first: queue.c dispatches on it */
    pthread_mutex_t mu;
    struct weft__rconns cs;
    char key[WEFT__REDIS_KEY_MAX];
    char kclosed[WEFT__REDIS_KEY_MAX];
    char consumer[128];
    size_t max_items, max_msg;
    char last[ID_MAX];       /* plain: got, acknowledged at the next get */
    char (*unacked)[ID_MAX]; /* joinable: got, not yet done (FIFO) */
    size_t nun, capun;
    bool has_stash; /* a message got and not handed over yet */
    char stash_id[ID_MAX];
    char *stash;
    size_t stash_len;
    int64_t next_claim; /* ns, monotonic */
    int claim_ms;
    _Atomic int busy; /* callers inside: destroy is -EBUSY meanwhile */
};

#define RQ(q) ((struct rq *)(void *)(q))

/* ---- scripts ------------------------------------------------------------- */

/* Lua: how many entries the group has not delivered yet (the close
 * marker included). Redis 7 keeps that count (the group's lag) unless
 * entries after the last delivered one were deleted, which weft never
 * does; without it (6.2), count them. */
#define LUA_UNDELIVERED                                                        \
    "local function undelivered(key)\n"                                        \
    "  local ok, gs = pcall(redis.call, 'XINFO', 'GROUPS', key)\n"             \
    "  if not ok then return 0 end\n"                                          \
    "  for _, g in ipairs(gs) do\n"                                            \
    "    local t = {}\n"                                                       \
    "    for i = 1, #g, 2 do t[g[i]] = g[i + 1] end\n"                         \
    "    if t['name'] == 'weft' then\n"                                        \
    "      if t['lag'] then return t['lag'] end\n"                             \
    "      local n, from = 0, '(' .. t['last-delivered-id']\n"                 \
    "      while true do\n"                                                    \
    "        local r = redis.call('XRANGE', key, from, '+', 'COUNT', 1000)\n"  \
    "        n = n + #r\n"                                                     \
    "        if #r < 1000 then return n end\n"                                 \
    "        from = '(' .. r[#r][1]\n"                                         \
    "      end\n"                                                              \
    "    end\n"                                                                \
    "  end\n"                                                                  \
    "  return redis.call('XLEN', key)\n"                                       \
    "end\n"

/* KEYS: stream, closed. ARGV: message, max_items.
 * 1 added, 0 full, -1 closed. */
static struct weft__rscript s_put = {
    LUA_UNDELIVERED "if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end\n"
                    "local m = tonumber(ARGV[2])\n"
                    "if m > 0 and undelivered(KEYS[1]) >= m then return 0 end\n"
                    "redis.call('XADD', KEYS[1], '*', 'd', ARGV[1])\n"
                    "return 1\n",
    ""};

/* KEYS: stream, closed. Tasks not finished: messages not delivered yet
 * or pending (the marker, undelivered or pending, is not one). */
static struct weft__rscript s_unfinished = {
    LUA_UNDELIVERED
    "local n = undelivered(KEYS[1])\n"
    "local ok, p = pcall(redis.call, 'XPENDING', KEYS[1], 'weft')\n"
    "if ok then n = n + p[1] end\n"
    "if redis.call('EXISTS', KEYS[2]) == 1 then n = n - 1 end\n"
    "if n < 0 then n = 0 end\n"
    "return n\n",
    ""};

/* KEYS: stream. ARGV: idle ms. Drop the entries before the oldest
 * pending one (or up to the last delivered one, if none is pending): all
 * acknowledged. And forget consumers (handles) that hold nothing and were
 * idle that long: gone processes would pile up in the group. */
static struct weft__rscript s_trim = {
    "local ok, p = pcall(redis.call, 'XPENDING', KEYS[1], 'weft')\n"
    "if not ok then return 0 end\n"
    "for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], 'weft')) do\n"
    "  local t = {}\n"
    "  for i = 1, #c, 2 do t[c[i]] = c[i + 1] end\n"
    "  if t['pending'] == 0 and t['idle'] > tonumber(ARGV[1]) then\n"
    "    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], 'weft', t['name'])\n"
    "  end\n"
    "end\n"
    "local minid = p[2]\n"
    "if p[1] == 0 then\n"
    "  for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do\n"
    "    for i = 1, #g, 2 do\n"
    "      if g[i] == 'name' and g[i + 1] ~= 'weft' then break end\n"
    "      if g[i] == 'last-delivered-id' then minid = g[i + 1] end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "if not minid then return 0 end\n"
    "return redis.call('XTRIM', KEYS[1], 'MINID', minid)\n",
    ""};

/* KEYS: stream, closed. */
static struct weft__rscript s_close = {
    "if redis.call('EXISTS', KEYS[2]) == 0 then\n"
    "  local id = redis.call('XADD', KEYS[1], '*', 'c', '1')\n"
    "  redis.call('SET', KEYS[2], id)\n"
    "end\n"
    "return 1\n",
    ""};

/* KEYS: stream, closed. ARGV: the marker this consumer got. */
static struct weft__rscript s_pass = {
    "redis.call('XACK', KEYS[1], 'weft', ARGV[1])\n"
    "redis.call('XDEL', KEYS[1], ARGV[1])\n"
    /* a stale marker (claimed from a dead consumer) is only dropped: the
     * current one is still on its way */
    "if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end\n"
    "local id = redis.call('XADD', KEYS[1], '*', 'c', '1')\n"
    "redis.call('SET', KEYS[2], id)\n"
    "return 1\n",
    ""};

/* KEYS: stream, closed. Messages not delivered yet (the marker is not a
 * message: it is undelivered unless it is pending). */
static struct weft__rscript s_qsize = {
    LUA_UNDELIVERED
    "local n = undelivered(KEYS[1])\n"
    "local m = redis.call('GET', KEYS[2])\n"
    "if m then\n"
    "  local ok, e = pcall(redis.call, 'XPENDING', KEYS[1], 'weft', m, m, 1)\n"
    "  if not ok or #e == 0 then n = n - 1 end\n"
    "end\n"
    "if n < 0 then n = 0 end\n"
    "return n\n",
    ""};

/* ---- helpers ------------------------------------------------------------- */

static size_t slen(const char *s)
{
    return strlen(s);
}

static int ensure_group(redisContext *c, struct rq *q)
{
    const char *av[] = {"XGROUP", "CREATE", q->key, GROUP, "0", "MKSTREAM"};
    size_t al[] = {6, 6, slen(q->key), 4, 1, 8};
    redisSetTimeout(
        c, (struct timeval){q->cs.url.connect_timeout_ms / 1000,
                            (q->cs.url.connect_timeout_ms % 1000) * 1000});
    redisReply *r = weft__redis_command(c, 6, av, al);
    if (r == NULL)
        return weft__redis_ctx_err(c);
    int rc = 0;
    if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) != 0)
        rc = weft__redis_reply_err(r);
    freeReplyObject(r);
    return rc;
}

/* In a forked child: a new consumer, with nothing got yet. */
static void check_fork(struct rq *q)
{
    if (q->cs.pid == getpid())
        return;
    pthread_mutex_lock(&q->mu);
    if (q->cs.pid != getpid()) {
        weft__rconns_forked(&q->cs);
        weft__redis_consumer_name(q->consumer, sizeof q->consumer);
        q->last[0] = '\0';
        q->nun = 0;
        free(q->stash);
        q->stash = NULL;
        q->has_stash = false;
        q->next_claim = 0;
    }
    pthread_mutex_unlock(&q->mu);
}

static int begin(struct rq *q, redisContext **c)
{
    check_fork(q);
    atomic_fetch_add(&q->busy, 1);
    int rc = weft__rconns_get(&q->cs, c);
    if (rc < 0)
        atomic_fetch_sub(&q->busy, 1);
    return rc;
}

static void end(struct rq *q, redisContext *c)
{
    weft__rconns_put(&q->cs, c);
    atomic_fetch_sub(&q->busy, 1);
}

static int run(struct rq *q, redisContext *c, struct weft__rscript *s,
               int nkeys, int argc, const char **argv, const size_t *lens,
               long long *ival)
{
    redisReply *r;
    int rc = weft__redis_script(c, &q->cs.url, s, nkeys, argc, argv, lens, &r);
    if (rc < 0)
        return rc;
    if (r->type != REDIS_REPLY_INTEGER)
        rc = -EPROTO;
    else if (ival)
        *ival = r->integer;
    freeReplyObject(r);
    return rc;
}

static int ack(struct rq *q, redisContext *c, const char *id)
{
    const char *av[] = {"XACK", q->key, GROUP, id};
    size_t al[] = {4, slen(q->key), 4, slen(id)};
    redisReply *r;
    int rc = weft__redis_cmd(c, &q->cs.url, 0, &r, 4, av, al);
    if (rc == 0)
        freeReplyObject(r);
    return rc == -ENOENT ? 0 : rc; /* no group: nothing to acknowledge */
}

/* ---- open ---------------------------------------------------------------- */

int weft_redis_queue_open(weft_queue **out, const char *url,
                          const weft_queue_opts *opts)
{
    weft_queue_opts o = {0};
    struct weft__rurl u;
    redisContext *c;
    int rc;

    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    if (opts)
        o = *opts;
    if (o.kind != WEFT_QUEUE_FIFO)
        return -EINVAL;
    rc = weft__redis_parse_url(url, &u);
    if (rc < 0)
        return rc;
    struct rq *q = calloc(1, sizeof *q);
    if (q == NULL)
        return -ENOMEM;
    q->head.magic = WEFT__QUEUE_MAGIC;
    q->head.kind = WEFT_QUEUE_FIFO;
    q->head.joinable = o.joinable;
    q->head.ring = WEFT__QUEUE_REDIS;
    pthread_mutex_init(&q->mu, NULL);
    weft__rconns_init(&q->cs, &u);
    weft__redis_key(q->key, "q", u.name, NULL);
    weft__redis_key(q->kclosed, "q", u.name, ":closed");
    weft__redis_consumer_name(q->consumer, sizeof q->consumer);
    q->max_items = o.max_items;
    q->claim_ms = u.visibility_ms / 2 < 1000 ? u.visibility_ms / 2 : 1000;
    if (q->claim_ms < 5)
        q->claim_ms = 5;
    rc = weft__redis_connect(&u, &c);
    if (rc < 0)
        goto fail;
    rc = weft__redis_check_commands(c, &u);
    if (rc == 0)
        rc = ensure_group(c, q);
    if (rc == 0) {
        size_t lim = weft__redis_bulk_limit(c, &u);
        q->max_msg = o.max_msg && o.max_msg < lim ? o.max_msg : lim;
    }
    weft__rconns_put(&q->cs, c);
    if (rc < 0)
        goto fail;
    *out = (weft_queue *)(void *)q;
    return 0;
fail:
    weft__rconns_fini(&q->cs);
    pthread_mutex_destroy(&q->mu);
    free(q);
    return rc;
}

int weft_redis_queue_unlink(const char *url)
{
    struct weft__rurl u;
    redisContext *c;
    char k[2][WEFT__REDIS_KEY_MAX];
    redisReply *r;
    int rc = weft__redis_parse_url(url, &u);

    if (rc < 0)
        return rc;
    rc = weft__redis_connect(&u, &c);
    if (rc < 0)
        return rc;
    weft__redis_key(k[0], "q", u.name, NULL);
    weft__redis_key(k[1], "q", u.name, ":closed");
    rc = weft__redis_cmd(c, &u, 0, &r, 3, (const char *[]){"DEL", k[0], k[1]},
                         (size_t[]){3, slen(k[0]), slen(k[1])});
    if (rc == 0)
        freeReplyObject(r);
    weft__redis_free(c);
    return rc;
}

/* ---- put ----------------------------------------------------------------- */

int weft__redisq_put(weft_queue *wq, const void *msg, size_t len,
                     int timeout_ms)
{
    struct rq *q = RQ(wq);
    redisContext *c;
    char max[24];
    long long v = 0;
    int rc;

    if (len > q->max_msg)
        return -EMSGSIZE;
    rc = begin(q, &c);
    if (rc < 0)
        return rc;
    snprintf(max, sizeof max, "%zu", q->max_items);
    const char *av[] = {q->key, q->kclosed, msg, max};
    size_t al[] = {slen(q->key), slen(q->kclosed), len, slen(max)};
    weft_deadline d = weft_deadline_in(timeout_ms);
    int nap = 1;
    for (;;) {
        rc = run(q, c, &s_put, 2, 4, av, al, &v);
        if (rc < 0)
            break;
        if (v == 1) {
            rc = 0;
            break;
        }
        if (v < 0) {
            rc = WEFT_ECLOSED;
            break;
        }
        /* Full: Redis cannot wake us, so look again with a growing nap. */
        if (weft_deadline_expired(d)) {
            rc = timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
            break;
        }
        int left = weft_deadline_remaining_ms(d);
        weft_sleep_ms(left >= 0 && left < nap ? left : nap);
        nap = nap < 32 ? nap * 2 : 32;
    }
    end(q, c);
    return rc;
}

/* ---- get ----------------------------------------------------------------- */

/* Hand a message to the caller (or keep it in the stash). Takes data. */
static int deliver(struct rq *q, const char *id, char *data, size_t len,
                   void *buf, size_t cap, bool peek_len)
{
    pthread_mutex_lock(&q->mu);
    if (peek_len || cap < len) {
        free(q->stash);
        q->stash = data;
        q->stash_len = len;
        snprintf(q->stash_id, sizeof q->stash_id, "%s", id);
        q->has_stash = true;
        pthread_mutex_unlock(&q->mu);
        return peek_len ? (int)len : -ENOBUFS;
    }
    memcpy(buf, data, len);
    free(data);
    int rc = (int)len;
    if (q->head.joinable) {
        if (q->nun == q->capun) {
            size_t n = q->capun ? q->capun * 2 : 16;
            void *p = realloc(q->unacked, n * sizeof *q->unacked);
            if (p == NULL) {
                /* Not recorded: it will be redelivered; say so. */
                pthread_mutex_unlock(&q->mu);
                return -ENOMEM;
            }
            q->unacked = p;
            q->capun = n;
        }
        snprintf(q->unacked[q->nun++], ID_MAX, "%s", id);
    } else {
        snprintf(q->last, sizeof q->last, "%s", id);
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

/* An entry [id, [field, value, ...]]: 1 a message (*data malloc'd), 2 the
 * close marker, or -EPROTO. */
static int parse_entry(const redisReply *e, const char **id, char **data,
                       size_t *len)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING)
        return -EPROTO;
    *id = e->element[0]->str;
    const redisReply *f = e->element[1];
    if (f->type != REDIS_REPLY_ARRAY || f->elements != 2 ||
        f->element[0]->type != REDIS_REPLY_STRING ||
        f->element[1]->type != REDIS_REPLY_STRING)
        return -EPROTO; /* deleted while pending: nil fields */
    if (f->element[0]->str[0] == 'c')
        return 2;
    *len = f->element[1]->len;
    *data = malloc(*len ? *len : 1);
    if (*data == NULL)
        return -ENOMEM;
    memcpy(*data, f->element[1]->str, *len);
    return 1;
}

/* Look for a message pending too long elsewhere. 1 and an entry in *out
 * (the reply to free in *hold), 0 none. */
static int claim(struct rq *q, redisContext *c, redisReply **hold,
                 const redisReply **out)
{
    char vis[16];
    snprintf(vis, sizeof vis, "%d", q->cs.url.visibility_ms);
    const char *av[] = {"XAUTOCLAIM", q->key, GROUP,   q->consumer,
                        vis,          "0-0",  "COUNT", "1"};
    size_t al[] = {10, slen(q->key), 4, slen(q->consumer), slen(vis), 3, 5, 1};
    redisReply *r;
    int rc = weft__redis_cmd(c, &q->cs.url, 0, &r, 8, av, al);
    if (rc == -ENOENT) {
        rc = ensure_group(c, q);
        if (rc == 0)
            rc = weft__redis_cmd(c, &q->cs.url, 0, &r, 8, av, al);
    }
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&q->mu);
    q->next_claim = weft_now_ns() + (int64_t)q->claim_ms * 1000000;
    pthread_mutex_unlock(&q->mu);
    /* the same tick drops what was acknowledged */
    char idle[24];
    snprintf(idle, sizeof idle, "%lld",
             (long long)q->cs.url.visibility_ms * 10);
    const char *tk[] = {q->key, idle};
    size_t tl[] = {slen(q->key), slen(idle)};
    int trc = run(q, c, &s_trim, 1, 2, tk, tl, NULL);
    if (trc < 0 && c->err) {
        freeReplyObject(r);
        return trc;
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2 &&
        r->element[1]->type == REDIS_REPLY_ARRAY &&
        r->element[1]->elements > 0) {
        *hold = r;
        *out = r->element[1]->element[0];
        return 1;
    }
    freeReplyObject(r);
    return 0;
}

/* Deal with one entry: a message (> 0, or -ENOBUFS), the marker
 * (WEFT_ECLOSED, after passing it on and a last claim), or 0 to go on
 * (an entry deleted while pending: acknowledged and skipped). */
static int take(struct rq *q, redisContext *c, const redisReply *e, void *buf,
                size_t cap, bool peek_len)
{
    const char *id = NULL;
    char *data = NULL;
    size_t len = 0;
    int rc = parse_entry(e, &id, &data, &len);

    if (rc == 1)
        return deliver(q, id, data, len, buf, cap, peek_len);
    if (rc == -EPROTO && id != NULL) {
        (void)ack(q, c, id);
        return 0;
    }
    if (rc != 2)
        return rc;
    const char *av[] = {q->key, q->kclosed, id};
    size_t al[] = {slen(q->key), slen(q->kclosed), slen(id)};
    rc = run(q, c, &s_pass, 2, 3, av, al, NULL);
    if (rc < 0)
        return rc;
    redisReply *hold;
    const redisReply *ce;
    rc = claim(q, c, &hold, &ce);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        rc = take(q, c, ce, buf, cap, peek_len);
        freeReplyObject(hold);
        if (rc != 0)
            return rc;
    }
    return WEFT_ECLOSED;
}

/* Pipelined: acknowledge id, then run the read (argv/lens). The read's
 * reply or error; a lost connection loses both (id stays to ack). */
static int read_with_ack(struct rq *q, redisContext *c, const char *id,
                         int block_ms, redisReply **out, int argc,
                         const char **argv, const size_t *lens)
{
    const char *av[] = {"XACK", q->key, GROUP, id};
    size_t al[] = {4, slen(q->key), 4, slen(id)};
    redisReply *r = NULL;
    int rc;

    rc = weft__redis_append(c, 4, av, al);
    if (rc == 0)
        rc = weft__redis_append(c, argc, argv, lens);
    if (rc < 0)
        return rc;
    int ms = q->cs.url.connect_timeout_ms + block_ms;
    redisSetTimeout(c, (struct timeval){ms / 1000, (ms % 1000) * 1000});
    int arc = weft__redis_read(c, &r);
    if (arc == 0)
        freeReplyObject(r);
    else if (c->err)
        return arc;
    rc = weft__redis_read(c, out);
    if (rc < 0)
        return rc;
    if (arc < 0 && arc != -ENOENT) {
        /* the acknowledgement failed alone: once more */
        int again = ack(q, c, id);
        if (again < 0) {
            freeReplyObject(*out);
            return again;
        }
    }
    return 0;
}

int weft__redisq_get(weft_queue *wq, void *buf, size_t cap, bool peek_len,
                     int timeout_ms)
{
    struct rq *q = RQ(wq);
    redisContext *c;
    char last[ID_MAX];
    int rc;

    check_fork(q);
    pthread_mutex_lock(&q->mu);
    if (q->has_stash) {
        size_t n = q->stash_len;
        if (peek_len) {
            pthread_mutex_unlock(&q->mu);
            return (int)n;
        }
        if (cap < n) {
            pthread_mutex_unlock(&q->mu);
            return -ENOBUFS;
        }
        char *data = q->stash;
        char id[ID_MAX];
        memcpy(id, q->stash_id, sizeof id);
        q->stash = NULL;
        q->has_stash = false;
        pthread_mutex_unlock(&q->mu);
        return deliver(q, id, data, n, buf, cap, false);
    }
    memcpy(last, q->last, sizeof last);
    q->last[0] = '\0';
    pthread_mutex_unlock(&q->mu);

    rc = begin(q, &c);
    if (rc < 0)
        goto restore;
    /* The previous message's acknowledgement rides in the same round trip
     * as the read (pipelined) unless a claim comes first. */
    bool piggy = false;
    if (last[0]) {
        pthread_mutex_lock(&q->mu);
        bool due = weft_now_ns() >= q->next_claim;
        pthread_mutex_unlock(&q->mu);
        if (!due) {
            piggy = true;
        } else {
            rc = ack(q, c, last);
            if (rc < 0) {
                end(q, c);
                goto restore;
            }
        }
    }
    weft_deadline d = weft_deadline_in(timeout_ms);
    for (;;) {
        pthread_mutex_lock(&q->mu);
        int64_t nc = q->next_claim;
        pthread_mutex_unlock(&q->mu);
        int64_t now = weft_now_ns();
        if (!piggy && now >= nc) {
            redisReply *hold;
            const redisReply *e;
            rc = claim(q, c, &hold, &e);
            if (rc < 0)
                break;
            if (rc == 1) {
                rc = take(q, c, e, buf, cap, peek_len);
                freeReplyObject(hold);
                if (rc != 0)
                    break;
                continue;
            }
            nc = now + (int64_t)q->claim_ms * 1000000;
        }
        /* Wait in slices so that a waiting consumer also claims. */
        int left = weft_deadline_remaining_ms(d);
        int slice = nc > now ? (int)((nc - now) / 1000000) + 1 : 1;
        if (left >= 0 && left < slice)
            slice = left;
        char blk[16];
        snprintf(blk, sizeof blk, "%d", slice);
        const char *av[] = {"XREADGROUP", "GROUP", GROUP,   q->consumer,
                            "COUNT",      "1",     "BLOCK", blk,
                            "STREAMS",    q->key,  ">"};
        size_t al[] = {10, 5,         4, slen(q->consumer), 5, 1,
                       5,  slen(blk), 7, slen(q->key),      1};
        redisReply *r;
        int n = 11;
        if (slice == 0) {
            /* non-waiting: drop BLOCK (BLOCK 0 would wait forever) */
            memmove(&av[6], &av[8], 3 * sizeof av[0]);
            memmove(&al[6], &al[8], 3 * sizeof al[0]);
            n = 9;
        }
        if (piggy) {
            piggy = false;
            rc = read_with_ack(q, c, last, slice, &r, n, av, al);
            if (rc == -ECONNRESET || rc == -ETIMEDOUT || rc == -ECONNREFUSED) {
                end(q, c);
                goto restore;
            }
        } else {
            rc = weft__redis_cmd(c, &q->cs.url, slice, &r, n, av, al);
        }
        if (rc == -ENOENT) {
            rc = ensure_group(c, q);
            if (rc < 0)
                break;
            continue;
        }
        if (rc < 0)
            break;
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 1) {
            const redisReply *s = r->element[0];
            if (s->type == REDIS_REPLY_ARRAY && s->elements == 2 &&
                s->element[1]->type == REDIS_REPLY_ARRAY &&
                s->element[1]->elements > 0) {
                rc = take(q, c, s->element[1]->element[0], buf, cap, peek_len);
                freeReplyObject(r);
                if (rc != 0)
                    break;
                continue;
            }
        }
        freeReplyObject(r);
        if (weft_deadline_expired(d)) {
            rc = timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
            break;
        }
    }
    end(q, c);
    return rc;
restore:
    /* Not acknowledged: try again at the next get. */
    pthread_mutex_lock(&q->mu);
    if (last[0] && q->last[0] == '\0')
        memcpy(q->last, last, sizeof last);
    pthread_mutex_unlock(&q->mu);
    return rc;
}

/* ---- the rest ------------------------------------------------------------ */

int weft__redisq_close(weft_queue *wq)
{
    struct rq *q = RQ(wq);
    redisContext *c;
    int rc = begin(q, &c);
    if (rc < 0)
        return rc;
    const char *av[] = {q->key, q->kclosed};
    size_t al[] = {slen(q->key), slen(q->kclosed)};
    rc = run(q, c, &s_close, 2, 2, av, al, NULL);
    end(q, c);
    return rc;
}

static int int_cmd(struct rq *q, const char *cmd, const char *key, long long *v)
{
    redisContext *c;
    redisReply *r;
    int rc = begin(q, &c);
    if (rc < 0)
        return rc;
    rc = weft__redis_cmd(c, &q->cs.url, 0, &r, 2, (const char *[]){cmd, key},
                         (size_t[]){slen(cmd), slen(key)});
    if (rc == 0) {
        if (r->type == REDIS_REPLY_INTEGER)
            *v = r->integer;
        else if (r->type == REDIS_REPLY_NIL)
            *v = 0;
        else if (r->type == REDIS_REPLY_STRING)
            *v = strtoll(r->str, NULL, 10);
        else
            rc = -EPROTO;
        freeReplyObject(r);
    }
    end(q, c);
    return rc;
}

int weft__redisq_closed(weft_queue *wq)
{
    long long v = 0;
    int rc = int_cmd(RQ(wq), "EXISTS", RQ(wq)->kclosed, &v);
    return rc < 0 ? rc : v != 0;
}

int weft__redisq_qsize(weft_queue *wq)
{
    struct rq *q = RQ(wq);
    redisContext *c;
    long long v = 0;
    int rc = begin(q, &c);
    if (rc < 0)
        return rc;
    const char *av[] = {q->key, q->kclosed};
    size_t al[] = {slen(q->key), slen(q->kclosed)};
    rc = run(q, c, &s_qsize, 2, 2, av, al, &v);
    end(q, c);
    if (rc < 0)
        return rc;
    return v > 0x7fffffff ? 0x7fffffff : (int)v;
}

int weft__redisq_full(weft_queue *wq)
{
    struct rq *q = RQ(wq);
    if (q->max_items == 0)
        return 0;
    int n = weft__redisq_qsize(wq);
    return n < 0 ? n : (size_t)n >= q->max_items;
}

int weft__redisq_task_done(weft_queue *wq)
{
    struct rq *q = RQ(wq);
    redisContext *c;
    char id[ID_MAX];

    check_fork(q);
    pthread_mutex_lock(&q->mu);
    if (q->nun == 0) {
        pthread_mutex_unlock(&q->mu);
        return -EOVERFLOW;
    }
    memcpy(id, q->unacked[0], sizeof id);
    pthread_mutex_unlock(&q->mu);
    int rc = begin(q, &c);
    if (rc < 0)
        return rc;
    rc = ack(q, c, id);
    end(q, c);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&q->mu);
    /* Oldest first; another thread may have done the same one meanwhile. */
    for (size_t i = 0; i < q->nun; i++) {
        if (strcmp(q->unacked[i], id) == 0) {
            memmove(&q->unacked[i], &q->unacked[i + 1],
                    (q->nun - i - 1) * sizeof *q->unacked);
            q->nun--;
            break;
        }
    }
    pthread_mutex_unlock(&q->mu);
    return 0;
}

int weft__redisq_join(weft_queue *wq, int timeout_ms)
{
    struct rq *q = RQ(wq);
    weft_deadline d = weft_deadline_in(timeout_ms);
    int nap = 1;

    /* Redis cannot wake us when the count reaches zero: look with a
     * growing nap (at most 20 ms late). */
    for (;;) {
        long long v = 0;
        redisContext *c;
        int rc = begin(q, &c);
        if (rc < 0)
            return rc;
        const char *av[] = {q->key, q->kclosed};
        size_t al[] = {slen(q->key), slen(q->kclosed)};
        rc = run(q, c, &s_unfinished, 2, 2, av, al, &v);
        end(q, c);
        if (rc < 0)
            return rc;
        if (v <= 0)
            return 0;
        if (weft_deadline_expired(d))
            return timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
        int left = weft_deadline_remaining_ms(d);
        weft_sleep_ms(left >= 0 && left < nap ? left : nap);
        nap = nap < 20 ? nap * 2 : 20;
    }
}

int weft__redisq_destroy(weft_queue *wq)
{
    struct rq *q = RQ(wq);

    if (atomic_load(&q->busy) > 0)
        return -EBUSY;
    if (q->cs.pid == getpid() && q->last[0]) {
        redisContext *c;
        if (weft__rconns_get(&q->cs, &c) == 0) {
            (void)ack(q, c, q->last);
            weft__rconns_put(&q->cs, c);
        }
    }
    if (q->cs.pid != getpid())
        weft__rconns_forked(&q->cs);
    weft__rconns_fini(&q->cs);
    pthread_mutex_destroy(&q->mu);
    free(q->unacked);
    free(q->stash);
    q->head.magic = 0;
    free(q);
    return 0;
}
