/* coroutine.c - the coroutine model: N threads, each a weft coroutine
 * scheduler with an acceptor coroutine per listening socket and a
 * coroutine per connection (or datagram). The gevent StreamServer, on
 * every core.
 *
 * All schedulers wait on the same listening sockets, each in its own
 * epoll set (one-shot): whichever wakes first takes the connection and
 * the others find nothing (EAGAIN) and wait again - cheap at a few
 * threads, and no connection waits behind a busy thread.
 *
 * Stopping: a coroutine cannot poll the stop eventfd and its client at
 * once, so each scheduler's first coroutine (the watcher) waits on the
 * eventfd and then cancels what must end at once - the acceptors and the
 * handlers waiting for a next request - and, once the supervisor sets
 * `forcing`, everything left. Connections and the request list are the
 * scheduler's own: no locks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log_int.h"
#include "server/server_int.h"

#define DGRAM_BUF 65536

struct co_sched {
    weft_server *s;
    pthread_t thread;
    bool started;
    struct weft_request *reqs; /* live, linked through prev/next */
    long live;
    weft_co **acceptors; /* one per listening socket */
    int rc;              /* weft_co_run's result */
};

static void unlink_req(struct co_sched *cs, struct weft_request *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        cs->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
}

static int handler_co(void *arg)
{
    struct weft_request *r = arg;
    struct co_sched *cs = r->sched;
    weft_server *s = cs->s;

    r->co = weft_co_self();
    weft__server_handle(s, r);
    unlink_req(cs, r);
    cs->live--;
    if (s->o.kind == WEFT_SERVER_STREAM)
        close(r->fd);
    free(r);
    weft__server_finish(s);
    return 0;
}

static void start_handler(struct co_sched *cs, int fd, const weft_addr *peer,
                          const void *data, size_t len)
{
    weft_server *s = cs->s;
    weft_co_opts co = {.stack_size = s->o.stack_size};
    struct weft_request *r;
    int rc;

    if (!weft__server_admit(s)) {
        if (s->o.kind == WEFT_SERVER_STREAM)
            weft__server_refuse(s, fd);
        else
            weft__log(WEFT_LOG_WARN,
                      "server: datagram dropped: %d in "
                      "progress",
                      s->o.max_conns);
        return;
    }
    r = calloc(1, sizeof *r + len);
    if (!r) {
        rc = -ENOMEM;
        goto fail;
    }
    r->srv = s;
    r->fd = fd;
    r->peer = *peer;
    r->sched = cs;
    if (data) {
        memcpy(r + 1, data, len);
        r->data = r + 1;
        r->len = len;
    }
    rc = weft_co_spawn(NULL, handler_co, r, &co);
    if (rc < 0) {
        free(r);
        goto fail;
    }
    r->next = cs->reqs;
    if (cs->reqs)
        cs->reqs->prev = r;
    cs->reqs = r;
    cs->live++;
    return;
fail:
    weft__log(WEFT_LOG_WARN, "server: cannot start a handler: %s",
              weft_strerror(rc));
    if (s->o.kind == WEFT_SERVER_STREAM)
        weft__server_refuse(s, fd);
    atomic_fetch_sub(&s->ctr->active, 1);
}

struct acceptor_arg {
    struct co_sched *cs;
    int fd;
};

static int acceptor_co(void *arg)
{
    struct acceptor_arg *aa = arg;
    struct co_sched *cs = aa->cs;
    weft_server *s = cs->s;
    void *buf = NULL;
    weft_addr peer;

    if (s->o.kind == WEFT_SERVER_DGRAM && !(buf = malloc(DGRAM_BUF)))
        return -ENOMEM;
    while (!atomic_load(&s->ctr->stopping)) {
        if (s->o.kind == WEFT_SERVER_DGRAM) {
            ssize_t n = weft__server_recv_dgram(aa->fd, buf, &peer, -1);
            if (n >= 0)
                start_handler(cs, aa->fd, &peer, buf, (size_t)n);
            else if (n == -ECANCELED)
                break;
            continue;
        }
        int fd = weft_accept(aa->fd, &peer, -1);
        if (fd == -ECANCELED || (fd < 0 && atomic_load(&s->ctr->stopping)))
            break;
        if (fd < 0) {
            weft__log(WEFT_LOG_WARN, "server: accept: %s", weft_strerror(fd));
            if (weft_co_sleep(10) == -ECANCELED)
                break;
            continue;
        }
        start_handler(cs, fd, &peer, NULL, 0);
    }
    free(buf);
    return 0;
}

static void cancel_reqs(struct co_sched *cs, bool idle_only)
{
    for (struct weft_request *r = cs->reqs; r; r = r->next) {
        if (idle_only && !r->idle)
            continue;
        if (r->co)
            weft_co_cancel(r->co);
        if (!idle_only && r->fd >= 0 && cs->s->o.kind == WEFT_SERVER_STREAM)
            shutdown(r->fd, SHUT_RDWR);
    }
}

static int watcher_co(void *arg)
{
    struct co_sched *cs = arg;
    weft_server *s = cs->s;
    struct acceptor_arg *aas = calloc(s->n, sizeof *aas);
    weft_co_opts co = {.stack_size = s->o.stack_size};
    bool forced = false;
    int rc = 0;

    if (!aas)
        return -ENOMEM;
    for (size_t i = 0; i < s->n; i++) {
        aas[i] = (struct acceptor_arg){cs, s->fds[i]};
        rc = weft_co_spawn(&cs->acceptors[i], acceptor_co, &aas[i], &co);
        if (rc < 0) {
            weft__log(WEFT_LOG_ERROR, "server: cannot start: %s",
                      weft_strerror(rc));
            weft_server_stop(s);
            break;
        }
    }
    while (!atomic_load(&s->ctr->stopping))
        weft_co_wait_fd(s->stop_efd, WEFT_CO_READ, -1);
    for (size_t i = 0; i < s->n; i++)
        weft_co_cancel(cs->acceptors[i]);
    weft_co_join_all(cs->acceptors, s->n, -1);
    for (size_t i = 0; i < s->n; i++)
        weft_co_release(cs->acceptors[i]);
    free(aas);
    /* Handlers waiting for a next request end now; the others have the
     * grace period, which the supervisor measures. */
    while (cs->live > 0) {
        cancel_reqs(cs, true);
        if (!forced && atomic_load(&s->ctr->forcing)) {
            cancel_reqs(cs, false);
            forced = true;
        }
        weft_co_sleep(10);
    }
    return rc;
}

static void *sched_main(void *arg)
{
    struct co_sched *cs = arg;
    weft_co_opts co = {.stack_size = cs->s->o.stack_size};
    cs->rc = weft_co_run(watcher_co, cs, &co, NULL);
    if (cs->rc < 0)
        weft_server_stop(cs->s);
    return NULL;
}

int weft__serve_coroutine(weft_server *s)
{
    int n = s->o.workers, rc = 0, i;
    struct co_sched *cs = calloc((size_t)n, sizeof *cs);
    weft_co **acc = calloc((size_t)n * s->n, sizeof *acc);

    if (!cs || !acc) {
        free(cs);
        free(acc);
        return -ENOMEM;
    }
    for (i = 0; i < n; i++) {
        cs[i].s = s;
        cs[i].acceptors = acc + (size_t)i * s->n;
        rc = -pthread_create(&cs[i].thread, NULL, sched_main, &cs[i]);
        if (rc < 0) {
            weft_server_stop(s);
            break;
        }
        cs[i].started = true;
    }
    weft__server_wait_stop(s);
    for (size_t k = 0; k < s->n; k++)
        shutdown(s->fds[k], SHUT_RDWR); /* new connections are refused */
    weft__server_wait_grace(s);
    for (i = 0; i < n; i++) {
        if (!cs[i].started)
            continue;
        pthread_join(cs[i].thread, NULL);
        if (cs[i].rc < 0 && rc == 0)
            rc = cs[i].rc;
    }
    free(acc);
    free(cs);
    return rc;
}
