/* thread.c - the models that run in the server's own process with
 * threads: serial (one acceptor thread that also handles, one client at a
 * time), thread (a thread per connection or datagram) and threadpool (a
 * weft thread pool takes the connections in turn).
 *
 * Every one has the same shape: the calling thread supervises - it waits
 * for the stop, then for the grace period, then shuts down the live
 * connections - while an acceptor thread polls the listening sockets and
 * the stop eventfd. shutdown(2) on a listening socket makes the kernel
 * refuse new connections at once, without freeing its descriptor number
 * under a thread that may still poll it.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <weft/pool.h>

#include "core/log_int.h"
#include "server/server_int.h"

#define DGRAM_BUF 65536

struct acceptor {
    weft_server *s;
    weft_pool *pool; /* threadpool */
    void *buf;       /* datagram buffer */
};

/* ---- a connection (or datagram) in a thread -------------------------------
 */

static struct weft_request *request_new(weft_server *s, int fd,
                                        const weft_addr *peer, const void *data,
                                        size_t len)
{
    struct weft_request *r = calloc(1, sizeof *r + len);
    if (!r)
        return NULL;
    r->srv = s;
    r->fd = fd;
    r->peer = *peer;
    if (data) {
        memcpy(r + 1, data, len);
        r->data = r + 1;
        r->len = len;
    }
    return r;
}

/* The handler ran: forget the connection. Thread model: r goes to the
 * done list, where the acceptor (or the supervisor) joins its thread. */
static void request_end(weft_server *s, struct weft_request *r, bool joinable)
{
    if (s->o.kind == WEFT_SERVER_STREAM) {
        weft__server_live_remove(s, r);
        close(r->fd);
    }
    if (joinable) {
        pthread_mutex_lock(&s->mu);
        r->next = s->done;
        s->done = r;
        pthread_mutex_unlock(&s->mu);
    } else {
        free(r);
    }
    weft__server_finish(s);
}

static void join_done(weft_server *s)
{
    struct weft_request *r;

    pthread_mutex_lock(&s->mu);
    r = s->done;
    s->done = NULL;
    pthread_mutex_unlock(&s->mu);
    while (r) {
        struct weft_request *next = r->next;
        pthread_join(r->thread, NULL);
        free(r);
        r = next;
    }
}

static void *thread_main(void *arg)
{
    struct weft_request *r = arg;
    weft__server_handle(r->srv, r);
    request_end(r->srv, r, true);
    return NULL;
}

static int pool_task(const void *arg, size_t len, weft_buf *result)
{
    struct weft_request *r;

    (void)len;
    (void)result;
    memcpy(&r, arg, sizeof r);
    weft__server_handle(r->srv, r);
    request_end(r->srv, r, false);
    return 0;
}

/* Hand a new connection or datagram to the model. Takes fd (stream). */
static void dispatch(struct acceptor *a, int fd, const weft_addr *peer,
                     const void *data, size_t len)
{
    weft_server *s = a->s;
    struct weft_request *r;
    bool stream = s->o.kind == WEFT_SERVER_STREAM;
    int rc = 0;

    if (s->o.model != WEFT_MODEL_SERIAL && !weft__server_admit(s)) {
        if (stream)
            weft__server_refuse(s, fd);
        else
            weft__log(WEFT_LOG_WARN,
                      "server: datagram dropped: %d in "
                      "progress",
                      s->o.max_conns);
        return;
    }
    if (s->o.model == WEFT_MODEL_SERIAL)
        atomic_fetch_add(&s->ctr->active, 1);
    r = request_new(s, fd, peer, data, len);
    if (!r) {
        rc = -ENOMEM;
        goto fail;
    }
    if (stream)
        weft__server_live_add(s, r);
    if (s->o.model == WEFT_MODEL_SERIAL) {
        weft__server_handle(s, r);
        request_end(s, r, false);
        return;
    }
    if (s->o.model == WEFT_MODEL_THREAD) {
        rc = -pthread_create(&r->thread, NULL, thread_main, r);
    } else {
        weft_future *f = NULL;
        rc = weft_pool_submit(a->pool, pool_task, &r, sizeof r, &f);
        weft_future_release(f);
    }
    if (rc == 0)
        return;
    if (stream)
        weft__server_live_remove(s, r);
    free(r);
fail:
    weft__log(WEFT_LOG_WARN, "server: cannot start a handler: %s",
              weft_strerror(rc));
    if (stream)
        weft__server_refuse(s, fd);
    atomic_fetch_sub(&s->ctr->active, 1);
}

/* Take what is waiting on listening socket i: a few connections, or one
 * datagram. */
static void take(struct acceptor *a, size_t i)
{
    weft_server *s = a->s;
    weft_addr peer;

    if (s->o.kind == WEFT_SERVER_DGRAM) {
        ssize_t n = weft__server_recv_dgram(s->fds[i], a->buf, &peer, 0);
        if (n >= 0)
            dispatch(a, s->fds[i], &peer, a->buf, (size_t)n);
        return;
    }
    for (int k = 0; k < 16 && !atomic_load(&s->ctr->stopping); k++) {
        int fd = weft_accept(s->fds[i], &peer, 0);
        if (fd == -EAGAIN)
            return;
        if (fd < 0) {
            /* Out of descriptors or memory: the connection waits in the
             * backlog; pause rather than spin on it. */
            weft__log(WEFT_LOG_WARN, "server: accept: %s", weft_strerror(fd));
            poll(NULL, 0, 10);
            return;
        }
        dispatch(a, fd, &peer, NULL, 0);
    }
}

static void *acceptor_main(void *arg)
{
    struct acceptor *a = arg;
    weft_server *s = a->s;
    struct pollfd *p = calloc(s->n + 1, sizeof *p);

    if (!p) {
        weft__log(WEFT_LOG_ERROR, "server: out of memory; stopping");
        weft_server_stop(s);
        return NULL;
    }
    for (size_t i = 0; i < s->n; i++)
        p[i] = (struct pollfd){s->fds[i], POLLIN, 0};
    p[s->n] = (struct pollfd){s->stop_efd, POLLIN, 0};
    while (!atomic_load(&s->ctr->stopping)) {
        int rc = poll(p, s->n + 1, 1000);
        if (s->o.model == WEFT_MODEL_THREAD)
            join_done(s);
        if (rc <= 0)
            continue;
        for (size_t i = 0; i < s->n; i++)
            if (p[i].revents)
                take(a, i);
    }
    free(p);
    return NULL;
}

static int serve(weft_server *s)
{
    struct acceptor a = {.s = s};
    pthread_t t;
    int rc;

    if (s->o.kind == WEFT_SERVER_DGRAM) {
        a.buf = malloc(DGRAM_BUF);
        if (!a.buf)
            return -ENOMEM;
    }
    if (s->o.model == WEFT_MODEL_THREADPOOL) {
        weft_pool_opts po = {.kind = WEFT_POOL_THREAD, .workers = s->o.workers};
        rc = weft_pool_create(&a.pool, &po);
        if (rc < 0) {
            free(a.buf);
            return rc;
        }
    }
    rc = -pthread_create(&t, NULL, acceptor_main, &a);
    if (rc < 0) {
        weft_pool_destroy(a.pool);
        free(a.buf);
        return rc;
    }
    weft__server_wait_stop(s);
    for (size_t i = 0; i < s->n; i++)
        shutdown(s->fds[i], SHUT_RDWR);
    if (!weft__server_wait_grace(s)) {
        weft__server_live_shutdown(s);
        /* Threads cannot be killed: wait for their handlers to notice. */
        pthread_mutex_lock(&s->mu);
        while (atomic_load(&s->ctr->active) > 0) {
            struct timespec t1;
            clock_gettime(CLOCK_MONOTONIC, &t1); /* idle_cv's clock */
            t1.tv_sec += 1;
            pthread_cond_timedwait(&s->idle_cv, &s->mu, &t1);
            /* Connections that arrived in the pool's queue since. */
            for (struct weft_request *r = s->live; r; r = r->next)
                shutdown(r->fd, SHUT_RDWR);
        }
        pthread_mutex_unlock(&s->mu);
    }
    pthread_join(t, NULL);
    join_done(s);
    if (a.pool) {
        weft_pool_shutdown(a.pool, true, false);
        weft_pool_destroy(a.pool);
    }
    free(a.buf);
    return 0;
}

int weft__serve_serial(weft_server *s)
{
    return serve(s);
}

int weft__serve_thread(weft_server *s)
{
    return serve(s);
}

int weft__serve_threadpool(weft_server *s)
{
    return serve(s);
}
