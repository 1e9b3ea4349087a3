/* conn.c - URLs, connections, commands and scripts for the Redis
 * backends (see redis_int.h). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <weft/net.h>
#include <weft/tls.h>

#include "redis/redis_int.h"

/* ---- URL ----------------------------------------------------------------- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Copy [s, s + n) into dst (cap bytes), decoding %XX. */
static int pct_copy(char *dst, size_t cap, const char *s, size_t n)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return -EINVAL;
            int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
            if (h < 0 || l < 0)
                return -EINVAL;
            c = h * 16 + l;
            i += 2;
        }
        if (c == 0 || o + 1 >= cap)
            return -EINVAL;
        dst[o++] = (char)c;
    }
    dst[o] = '\0';
    return 0;
}

static int parse_int(const char *s, size_t n, long lo, long hi, int *out)
{
    char tmp[24];
    char *end;

    if (n == 0 || n >= sizeof tmp)
        return -EINVAL;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    errno = 0;
    long v = strtol(tmp, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return -EINVAL;
    *out = (int)v;
    return 0;
}

static bool name_ok(const char *s, size_t n)
{
    if (n == 0 || n > WEFT__REDIS_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '.' && c != '_' && c != ':' && c != '-')
            return false;
    }
    return true;
}

static int parse_option(struct weft__rurl *u, const char *s, size_t n)
{
    const char *eq = memchr(s, '=', n);
    if (eq == NULL)
        return -EINVAL;
    size_t kl = (size_t)(eq - s), vl = n - kl - 1;
    const char *v = eq + 1;

    if (kl == 18 && memcmp(s, "connect_timeout_ms", kl) == 0)
        return parse_int(v, vl, 1, INT_MAX / 2, &u->connect_timeout_ms);
    if (kl == 13 && memcmp(s, "visibility_ms", kl) == 0)
        return parse_int(v, vl, 10, INT_MAX / 2, &u->visibility_ms);
    if (kl == 2 && memcmp(s, "db", kl) == 0)
        return parse_int(v, vl, 0, 1000000, &u->db);
    /* A CA file only means something with TLS. */
    if (kl == 6 && memcmp(s, "tls_ca", kl) == 0 && u->tls)
        return pct_copy(u->tls_ca, sizeof u->tls_ca, v, vl);
    return -EINVAL;
}

int weft__redis_parse_url(const char *url, struct weft__rurl *u)
{
    memset(u, 0, sizeof *u);
    u->port = 6379;
    u->connect_timeout_ms = 5000;
    u->visibility_ms = 30000;
    if (url == NULL)
        return -EINVAL;
    const char *a;
    if (strncmp(url, "rediss://", 9) == 0) {
        u->tls = true;
        a = url + 9;
    } else if (strncmp(url, "redis://", 8) == 0) {
        a = url + 8;
    } else {
        return -EINVAL;
    }
    const char *slash = strchr(a, '/');
    if (slash == NULL)
        return -EINVAL;
    /* user info: the last '@' before the path */
    const char *at = NULL;
    for (const char *p = a; p < slash; p++)
        if (*p == '@')
            at = p;
    if (at != NULL) {
        const char *colon = memchr(a, ':', (size_t)(at - a));
        if (colon == NULL)
            return -EINVAL;
        if (pct_copy(u->user, sizeof u->user, a, (size_t)(colon - a)) < 0 ||
            pct_copy(u->pass, sizeof u->pass, colon + 1,
                     (size_t)(at - colon - 1)) < 0)
            return -EINVAL;
        u->has_pass = true;
        a = at + 1;
    }
    /* host[:port], host may be [v6] */
    const char *hend, *port = NULL;
    if (*a == '[') {
        const char *rb = memchr(a, ']', (size_t)(slash - a));
        if (rb == NULL)
            return -EINVAL;
        if (rb + 1 < slash) {
            if (rb[1] != ':')
                return -EINVAL;
            port = rb + 2;
        }
        a++;
        hend = rb;
    } else {
        const char *colon = memchr(a, ':', (size_t)(slash - a));
        hend = colon ? colon : slash;
        if (colon)
            port = colon + 1;
    }
    size_t hl = (size_t)(hend - a);
    if (hl == 0 || hl >= sizeof u->host)
        return -EINVAL;
    for (size_t i = 0; i < hl; i++)
        if (a[i] == '@' || a[i] == '/' || a[i] == '?' ||
            isspace((unsigned char)a[i]))
            return -EINVAL;
    memcpy(u->host, a, hl);
    u->host[hl] = '\0';
    if (port != NULL &&
        parse_int(port, (size_t)(slash - port), 1, 65535, &u->port) < 0)
        return -EINVAL;
    /* /name[?options] */
    const char *name = slash + 1;
    const char *q = strchr(name, '?');
    size_t nl = q ? (size_t)(q - name) : strlen(name);
    if (!name_ok(name, nl))
        return -EINVAL;
    memcpy(u->name, name, nl);
    u->name[nl] = '\0';
    if (q != NULL) {
        const char *s = q + 1;
        for (;;) {
            const char *amp = strchr(s, '&');
            size_t n = amp ? (size_t)(amp - s) : strlen(s);
            if (parse_option(u, s, n) < 0)
                return -EINVAL;
            if (amp == NULL)
                break;
            s = amp + 1;
        }
    }
    return 0;
}

/* ---- errors -------------------------------------------------------------- */

int weft__redis_ctx_err(const redisContext *c)
{
    if (c == NULL)
        return -ENOMEM;
    switch (c->err) {
    case 0:
        return 0;
    case REDIS_ERR_OOM:
        return -ENOMEM;
    case REDIS_ERR_EOF:
        return -ECONNRESET;
    case REDIS_ERR_PROTOCOL:
        return -EPROTO;
    default:
        break;
    }
    /* hiredis 0.14 keeps only the text of the errno it saw. */
    static const struct {
        int e;
    } known[] = {{ECONNREFUSED}, {EHOSTUNREACH}, {ENETUNREACH},
                 {ECONNRESET},   {EPIPE},        {ETIMEDOUT},
                 {EAGAIN},       {EINPROGRESS},  {ENOENT}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (strstr(c->errstr, strerror(known[i].e)) != NULL) {
            int e = known[i].e;
            /* a socket timeout (SO_RCVTIMEO) reads as EAGAIN */
            if (e == EAGAIN || e == EINPROGRESS)
                e = ETIMEDOUT;
            if (e == EPIPE)
                e = ECONNRESET;
            if (e == ENOENT)
                e = EHOSTUNREACH; /* name resolution */
            return -e;
        }
    }
    if (strstr(c->errstr, "Name or service") != NULL ||
        strstr(c->errstr, "resolve") != NULL)
        return -EHOSTUNREACH;
    if (strstr(c->errstr, "imed out") != NULL)
        return -ETIMEDOUT;
    return -ECONNREFUSED;
}

static bool starts(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

int weft__redis_reply_err(const redisReply *r)
{
    const char *s = r->str ? r->str : "";

    if (starts(s, "NOAUTH") || starts(s, "WRONGPASS") ||
        strstr(s, "invalid password") != NULL ||
        strstr(s, "without any password") != NULL ||
        strstr(s, "invalid username-password") != NULL || starts(s, "NOPERM"))
        return -EACCES;
    if (starts(s, "ERR unknown command") || strstr(s, "unknown subcommand"))
        return -EOPNOTSUPP;
    if (starts(s, "OOM"))
        return -ENOMEM;
    if (starts(s, "NOGROUP"))
        return -ENOENT;
    if (starts(s, "LOADING") || starts(s, "BUSY ") || starts(s, "MASTERDOWN"))
        return -EBUSY;
    if (starts(s, "NOSCRIPT"))
        return -ENOEXEC;
    if (strstr(s, "invalid bulk length") || strstr(s, "too big") ||
        strstr(s, "exceeds"))
        return -EMSGSIZE;
    return -EPROTO;
}

/* ---- connections --------------------------------------------------------- */

static struct timeval tv_ms(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return tv;
}

/* ---- TLS (rediss://) ------------------------------------------------------
 */

/* Which context has which pump: hiredis's context has no room for it.
 * The lock is taken around fork() (pthread_atfork) so that a child finds
 * it free and the list whole. */
struct tls_link {
    redisContext *c;
    weft_tls_conn *tls;
    struct tls_link *next;
};
static pthread_mutex_t tls_mu = PTHREAD_MUTEX_INITIALIZER;
static struct tls_link *tls_links;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static void tls_lock(void)
{
    pthread_mutex_lock(&tls_mu);
}

static void tls_unlock(void)
{
    pthread_mutex_unlock(&tls_mu);
}

static void tls_init(void)
{
    pthread_atfork(tls_lock, tls_unlock, tls_unlock);
}

static int tls_add(redisContext *c, weft_tls_conn *t)
{
    struct tls_link *l = malloc(sizeof *l);
    if (l == NULL)
        return -ENOMEM;
    l->c = c;
    l->tls = t;
    tls_lock();
    l->next = tls_links;
    tls_links = l;
    tls_unlock();
    return 0;
}

/* Take c's pump out of the table: NULL for a plain context. */
static weft_tls_conn *tls_take(redisContext *c)
{
    weft_tls_conn *t = NULL;

    tls_lock();
    for (struct tls_link **pl = &tls_links; *pl != NULL; pl = &(*pl)->next) {
        if ((*pl)->c == c) {
            struct tls_link *l = *pl;
            *pl = l->next;
            t = l->tls;
            free(l);
            break;
        }
    }
    tls_unlock();
    return t;
}

/* A context made by redisConnectFd has no host: only ours, over TLS. */
static bool is_tls(const redisContext *c)
{
    return c->tcp.host == NULL;
}

void weft__redis_free(redisContext *c)
{
    if (c == NULL)
        return;
    weft_tls_conn *t = is_tls(c) ? tls_take(c) : NULL;
    /* hiredis closes the pump's end itself: that is the pump's end of
     * file, after which it sends close_notify and ends. */
    redisFree(c);
    weft_tls_close(t, WEFT_TLS_FD_CLOSED | WEFT_TLS_CLOSE_SOCKET, NULL, 0);
}

void weft__redis_forget(redisContext *c)
{
    if (c == NULL)
        return;
    weft_tls_conn *t = is_tls(c) ? tls_take(c) : NULL;
    redisFree(c); /* closes our copy of the fd only; sends nothing */
    weft_tls_forget(t, WEFT_TLS_FD_CLOSED | WEFT_TLS_CLOSE_SOCKET);
}

/* hiredis write()s; a pump that ended (the server went, a timeout) has
 * closed its end, and the write would raise SIGPIPE. Held off for this
 * thread while hiredis runs, and the one its write raised taken back,
 * unless one was pending already (as weft_write_all does for pipes). */
struct nosigpipe {
    sigset_t set, old;
    bool was_pending, on;
};

static void nosigpipe_begin(struct nosigpipe *n, const redisContext *c)
{
    sigset_t pending;

    n->on = is_tls(c);
    if (!n->on)
        return;
    sigemptyset(&n->set);
    sigaddset(&n->set, SIGPIPE);
    sigpending(&pending);
    n->was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &n->set, &n->old);
}

static void nosigpipe_end(struct nosigpipe *n)
{
    sigset_t pending;
    struct timespec zero = {0, 0};

    if (!n->on)
        return;
    sigpending(&pending);
    if (!n->was_pending && sigismember(&pending, SIGPIPE))
        while (sigtimedwait(&n->set, NULL, &zero) < 0 && errno == EINTR)
            continue;
    pthread_sigmask(SIG_SETMASK, &n->old, NULL);
}

redisReply *weft__redis_command(redisContext *c, int argc, const char **argv,
                                const size_t *lens)
{
    struct nosigpipe np;

    nosigpipe_begin(&np, c);
    redisReply *r = redisCommandArgv(c, argc, argv, lens);
    nosigpipe_end(&np);
    return r;
}

/* TCP keepalive as hiredis sets it on its own sockets. */
static void keepalive(int fd)
{
    int on = 1, idle = 15, intvl = 5, cnt = 3;

    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
}

/* rediss://: TCP within connect_timeout_ms, the TLS handshake within it
 * too (the server's certificate checked against tls_ca or the system's
 * CAs, and against the host name or address), then hiredis on the pump's
 * end. 0 and *out, or -EACCES (certificate), -EPROTO (no TLS there), a
 * connection error, -EINVAL (tls_ca unreadable). */
static int connect_tls(const struct weft__rurl *u, redisContext **out)
{
    char hp[300], err[WEFT_TLS_ERR_MAX];
    weft_addr a;
    weft_tls_ctx *ctx;
    weft_tls_conn *t;
    int fd, rc, fl;

    pthread_once(&tls_once, tls_init);
    snprintf(hp, sizeof hp, strchr(u->host, ':') ? "[%s]:%d" : "%s:%d", u->host,
             u->port);
    rc = weft_addr_parse(&a, hp);
    if (rc < 0)
        return rc == -ENOENT ? -EHOSTUNREACH : -EINVAL;
    rc = weft_tls_client_ctx(&ctx, u->tls_ca[0] ? u->tls_ca : NULL, err,
                             sizeof err);
    if (rc < 0)
        return rc;
    fd = weft_connect(&a, u->connect_timeout_ms);
    if (fd < 0) {
        weft_tls_ctx_destroy(ctx);
        return fd == -ENOENT ? -EHOSTUNREACH : fd;
    }
    keepalive(fd);
    rc = weft_tls_connect(&t, ctx, fd, u->host, u->connect_timeout_ms,
                          u->connect_timeout_ms, err, sizeof err);
    weft_tls_ctx_destroy(ctx); /* the connection keeps its own reference */
    if (rc < 0) {
        close(fd);
        return rc;
    }
    /* hiredis waits with blocking reads and SO_RCVTIMEO. */
    fl = fcntl(weft_tls_fd(t), F_GETFL);
    if (fl < 0 || fcntl(weft_tls_fd(t), F_SETFL, fl & ~O_NONBLOCK) < 0) {
        rc = -errno;
        weft_tls_close(t, WEFT_TLS_CLOSE_SOCKET, NULL, 0);
        return rc;
    }
    redisContext *c = redisConnectFd(weft_tls_fd(t));
    if (c == NULL || c->err != 0 || tls_add(c, t) < 0) {
        rc = c == NULL || c->err == 0 ? -ENOMEM : weft__redis_ctx_err(c);
        if (c != NULL)
            redisFree(c);
        weft_tls_close(
            t, (c != NULL ? WEFT_TLS_FD_CLOSED : 0) | WEFT_TLS_CLOSE_SOCKET,
            NULL, 0);
        return rc;
    }
    *out = c;
    return 0;
}

int weft__redis_connect(const struct weft__rurl *u, redisContext **out)
{
    redisContext *c = NULL;
    int rc;

    *out = NULL;
    if (u->tls) {
        rc = connect_tls(u, &c);
        if (rc < 0)
            return rc;
    } else {
        c = redisConnectWithTimeout(u->host, u->port,
                                    tv_ms(u->connect_timeout_ms));
        if (c == NULL)
            return -ENOMEM;
        if (c->err) {
            rc = weft__redis_ctx_err(c);
            redisFree(c);
            return rc;
        }
        redisEnableKeepAlive(c);
    }
    if (u->has_pass) {
        const char *argv[3] = {"AUTH", u->user, u->pass};
        size_t lens[3] = {4, strlen(u->user), strlen(u->pass)};
        redisReply *r;
        rc = u->user[0] ? weft__redis_cmd(c, u, 0, &r, 3, argv, lens)
                        : weft__redis_cmd(c, u, 0, &r, 2,
                                          (const char *[]){"AUTH", u->pass},
                                          (size_t[]){4, strlen(u->pass)});
        if (rc < 0) {
            weft__redis_free(c);
            return rc;
        }
        freeReplyObject(r);
    }
    if (u->db != 0) {
        char db[16];
        redisReply *r;
        snprintf(db, sizeof db, "%d", u->db);
        rc = weft__redis_cmd(c, u, 0, &r, 2, (const char *[]){"SELECT", db},
                             (size_t[]){6, strlen(db)});
        if (rc < 0) {
            weft__redis_free(c);
            return rc == -EPROTO ? -EINVAL : rc;
        }
        freeReplyObject(r);
    }
    *out = c;
    return 0;
}

void weft__rconns_init(struct weft__rconns *cs, const struct weft__rurl *u)
{
    pthread_mutex_init(&cs->mu, NULL);
    cs->url = *u;
    cs->nfree = 0;
    cs->pid = getpid();
}

void weft__rconns_forked(struct weft__rconns *cs)
{
    pthread_mutex_lock(&cs->mu);
    /* The sockets are shared with the parent: closing our copies of the
     * fds leaves its connections alone (redisFree sends nothing, and a
     * TLS pump is the parent's). */
    for (int i = 0; i < cs->nfree; i++)
        weft__redis_forget(cs->free[i]);
    cs->nfree = 0;
    cs->pid = getpid();
    pthread_mutex_unlock(&cs->mu);
}

int weft__rconns_get(struct weft__rconns *cs, redisContext **out)
{
    pthread_mutex_lock(&cs->mu);
    if (cs->nfree > 0) {
        *out = cs->free[--cs->nfree];
        pthread_mutex_unlock(&cs->mu);
        return 0;
    }
    pthread_mutex_unlock(&cs->mu);
    return weft__redis_connect(&cs->url, out);
}

void weft__rconns_put(struct weft__rconns *cs, redisContext *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&cs->mu);
    if (c->err == 0 &&
        cs->nfree < (int)(sizeof cs->free / sizeof cs->free[0])) {
        cs->free[cs->nfree++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&cs->mu);
    weft__redis_free(c);
}

void weft__rconns_fini(struct weft__rconns *cs)
{
    for (int i = 0; i < cs->nfree; i++)
        weft__redis_free(cs->free[i]);
    cs->nfree = 0;
    pthread_mutex_destroy(&cs->mu);
}

/* ---- commands ------------------------------------------------------------ */

static int take_reply(redisContext *c, redisReply *r, redisReply **out)
{
    if (r == NULL)
        return weft__redis_ctx_err(c);
    if (r->type == REDIS_REPLY_ERROR) {
        int rc = weft__redis_reply_err(r);
        freeReplyObject(r);
        return rc;
    }
    *out = r;
    return 0;
}

int weft__redis_cmd(redisContext *c, const struct weft__rurl *u, int block_ms,
                    redisReply **out, int argc, const char **argv,
                    const size_t *lens)
{
    int ms = u->connect_timeout_ms;

    if (block_ms > 0)
        ms = block_ms > INT_MAX - ms ? INT_MAX : block_ms + ms;
    redisSetTimeout(c, tv_ms(ms));
    redisReply *r = weft__redis_command(c, argc, argv, lens);
    return take_reply(c, r, out);
}

int weft__redis_append(redisContext *c, int argc, const char **argv,
                       const size_t *lens)
{
    if (redisAppendCommandArgv(c, argc, argv, lens) != REDIS_OK)
        return weft__redis_ctx_err(c);
    return 0;
}

int weft__redis_read(redisContext *c, redisReply **out)
{
    void *r = NULL;
    struct nosigpipe np;

    /* The pipelined commands are written here. */
    nosigpipe_begin(&np, c);
    int ok = redisGetReply(c, &r);
    nosigpipe_end(&np);
    if (ok != REDIS_OK)
        return weft__redis_ctx_err(c);
    return take_reply(c, r, out);
}

/* Scripts are static and shared by every thread: their SHA is read and
 * written under one lock. */
static pthread_mutex_t sha_mu = PTHREAD_MUTEX_INITIALIZER;

bool weft__redis_script_sha(struct weft__rscript *s, char sha[41])
{
    pthread_mutex_lock(&sha_mu);
    memcpy(sha, s->sha, 41);
    pthread_mutex_unlock(&sha_mu);
    return sha[0] != '\0';
}

void weft__redis_script_set_sha(struct weft__rscript *s, const char *sha)
{
    pthread_mutex_lock(&sha_mu);
    memcpy(s->sha, sha, 40);
    s->sha[40] = '\0';
    pthread_mutex_unlock(&sha_mu);
}

int weft__redis_script(redisContext *c, const struct weft__rurl *u,
                       struct weft__rscript *s, int nkeys, int argc,
                       const char **argv, const size_t *lens, redisReply **out)
{
    const char *av[24];
    size_t al[24];
    char nk[12];
    int rc;

    if (argc + 3 > 24)
        return -EINVAL;
    snprintf(nk, sizeof nk, "%d", nkeys);
    av[0] = "EVALSHA";
    al[0] = 7;
    av[2] = nk;
    al[2] = strlen(nk);
    for (int i = 0; i < argc; i++) {
        av[3 + i] = argv[i];
        al[3 + i] = lens[i];
    }
    char sha[41];
    if (weft__redis_script_sha(s, sha)) {
        av[1] = sha;
        al[1] = 40;
        rc = weft__redis_cmd(c, u, 0, out, argc + 3, av, al);
        if (rc != -ENOEXEC)
            return rc;
    }
    /* Load it (also after a restart that lost the script cache). */
    redisReply *r;
    rc = weft__redis_cmd(c, u, 0, &r, 3,
                         (const char *[]){"SCRIPT", "LOAD", s->src},
                         (size_t[]){6, 4, strlen(s->src)});
    if (rc < 0)
        return rc;
    if (r->type == REDIS_REPLY_STRING && r->len == 40)
        weft__redis_script_set_sha(s, r->str);
    freeReplyObject(r);
    av[0] = "EVAL";
    al[0] = 4;
    av[1] = s->src;
    al[1] = strlen(s->src);
    return weft__redis_cmd(c, u, 0, out, argc + 3, av, al);
}

int weft__redis_check_commands(redisContext *c, const struct weft__rurl *u)
{
    static const char *need[] = {"COMMAND", "INFO",       "XAUTOCLAIM",
                                 "XADD",    "XREADGROUP", "XACK",
                                 "XCLAIM",  "XPENDING",   "EVALSHA"};
    redisReply *r;
    int rc = weft__redis_cmd(c, u, 0, &r, 9, need,
                             (size_t[]){7, 4, 10, 4, 10, 4, 6, 8, 7});
    if (rc < 0)
        return rc;
    rc = 0;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 7)
        rc = -EOPNOTSUPP;
    else
        for (size_t i = 0; i < r->elements; i++)
            if (r->element[i]->type != REDIS_REPLY_ARRAY)
                rc = -EOPNOTSUPP;
    freeReplyObject(r);
    return rc;
}

size_t weft__redis_bulk_limit(redisContext *c, const struct weft__rurl *u)
{
    redisReply *r;
    size_t lim = WEFT__REDIS_BULK_MAX;
    if (weft__redis_cmd(c, u, 0, &r, 3,
                        (const char *[]){"CONFIG", "GET", "proto-max-bulk-len"},
                        (size_t[]){6, 3, 18}) < 0)
        return lim; /* CONFIG may be renamed away: assume the default */
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[1]->type == REDIS_REPLY_STRING) {
        unsigned long long v = strtoull(r->element[1]->str, NULL, 10);
        if (v > 1024 && v < lim)
            lim = (size_t)v;
    }
    freeReplyObject(r);
    /* room for the command around the message */
    return lim - 1024;
}

void weft__redis_key(char *buf, const char *kind, const char *name,
                     const char *suffix)
{
    snprintf(buf, WEFT__REDIS_KEY_MAX, "weft:%s:{%s}%s", kind, name,
             suffix ? suffix : "");
}

void weft__redis_consumer_name(char *buf, size_t cap)
{
    char host[64] = "host";
    unsigned long long rnd = 0;
    FILE *f;
    struct timespec ts;

    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    f = fopen("/dev/urandom", "rb");
    if (f != NULL) {
        if (fread(&rnd, sizeof rnd, 1, f) != 1)
            rnd = 0;
        fclose(f);
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    rnd ^= (unsigned long long)ts.tv_nsec * 2654435761ull;
    snprintf(buf, cap, "%s:%ld:%016llx", host, (long)getpid(), rnd);
}
