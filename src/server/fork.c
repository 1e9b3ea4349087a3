/* fork.c - the two process models. The server's own thread runs one epoll
 * loop over the listening sockets, the stop eventfd, and each child's
 * sentinel (its pidfd, weft_process_sentinel), so it learns of every
 * exit at once and no child is ever left a zombie.
 *
 *   fork     a weft process per connection (or datagram): the child runs
 *            the handler and exits; its exit code tells how it went.
 *   prefork  N worker processes started up front, each with a weft pipe.
 *            The server accepts, and passes each connection (SCM_RIGHTS)
 *            to an idle worker, or queues it while all are busy; the
 *            worker answers one byte when done. A worker that dies is
 *            replaced. Datagram prefork workers read the shared socket
 *            themselves (there is nothing to hand over).
 *
 * A child keeps only what it needs: it closes the listening sockets (a
 * datagram child keeps its socket to reply), the loop's epoll, other
 * workers' pipes, queued connections and the signal subscription, and it
 * ignores SIGINT - a ^C in the terminal reaches the whole process group,
 * and the server, not each child, decides how to stop.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <weft/pipe.h>
#include <weft/proc.h>

#include "core/log_int.h"
#include "server/server_int.h"

#define DGRAM_BUF 65536

enum { K_LISTEN = 1, K_STOP, K_EXIT, K_PIPE };

struct slot {
    weft_process *p;   /* NULL: free */
    weft_conn *parent; /* prefork: the server's end of the worker's pipe */
    weft_conn *child;  /* prefork: the worker's end (closed in the server) */
    bool busy;         /* prefork: handling a connection */
    weft_addr peer;    /* fork: whom the child serves (for the log) */
};

struct loop {
    weft_server *s;
    int epfd;
    struct slot *slots;
    int nslots;
    int *queue; /* prefork: accepted, waiting for a worker (a ring) */
    int qhead, qlen, qcap;
    void *buf; /* fork: datagram buffer */
    /* What a new child serves (fork model), read in the child's copy. */
    int cur_fd;
    weft_addr cur_peer;
    size_t cur_len;
    int cur_slot;
};

static uint64_t tag(int kind, int idx)
{
    return (uint64_t)kind << 32 | (uint32_t)idx;
}

static int watch(struct loop *l, int fd, int kind, int idx)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag(kind, idx)};
    return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* ---- in the child -------------------------------------------------------- */

static void child_setup(struct loop *l)
{
    weft_server *s = l->s;

    signal(SIGINT, SIG_IGN);
    weft_signals_close(s->sigs);
    s->sigs = NULL;
    close(l->epfd);
    if (s->o.kind == WEFT_SERVER_STREAM)
        weft__server_close_listeners(s);
    if (s->o.model != WEFT_MODEL_PREFORK)
        return; /* a fork-model child inherits no pipe and no queue */
    /* Close the siblings' pipe ends, but leave their memory alone:
     * freeing would dirty copy-on-write pages in every worker (quadratic
     * memory in the worker count). Only the slot being started holds a
     * worker's end. */
    for (int i = 0; i < l->nslots; i++)
        if (l->slots[i].parent)
            close(weft_conn_fileno(l->slots[i].parent));
    for (int i = 0; i < l->qlen; i++)
        close(l->queue[(l->qhead + i) % l->qcap]);
}

static int fork_child(void *arg)
{
    struct loop *l = arg;
    weft_server *s = l->s;
    struct weft_request r = {.srv = s, .fd = l->cur_fd, .peer = l->cur_peer};

    child_setup(l);
    if (s->o.kind == WEFT_SERVER_DGRAM) {
        r.data = l->buf;
        r.len = l->cur_len;
    }
    weft__server_handle(s, &r);
    if (s->o.kind == WEFT_SERVER_STREAM)
        close(r.fd);
    return 0;
}

static void prefork_dgram_worker(weft_server *s, void *buf)
{
    struct pollfd *p = calloc(s->n + 1, sizeof *p);

    if (!p)
        return;
    for (size_t i = 0; i < s->n; i++)
        p[i] = (struct pollfd){s->fds[i], POLLIN, 0};
    p[s->n] = (struct pollfd){s->stop_efd, POLLIN, 0};
    while (!atomic_load(&s->ctr->stopping)) {
        if (poll(p, s->n + 1, -1) <= 0)
            continue;
        for (size_t i = 0; i < s->n; i++) {
            struct weft_request r = {.srv = s, .fd = s->fds[i]};
            ssize_t n;
            if (!p[i].revents)
                continue;
            n = weft__server_recv_dgram(s->fds[i], buf, &r.peer, 0);
            if (n < 0)
                continue; /* another worker took it */
            if (!weft__server_admit(s))
                continue;
            r.data = buf;
            r.len = (size_t)n;
            weft__server_handle(s, &r);
            weft__server_finish(s);
        }
    }
    free(p);
}

static int prefork_worker(void *arg)
{
    struct loop *l = arg;
    weft_server *s = l->s;
    int me = l->cur_slot;
    weft_conn *pipe = l->slots[me].child;
    char done = 'd';

    child_setup(l);
    if (s->o.kind == WEFT_SERVER_DGRAM) {
        void *buf = malloc(DGRAM_BUF);
        if (!buf)
            return 1;
        prefork_dgram_worker(s, buf);
        free(buf);
        return 0;
    }
    for (;;) {
        struct weft_request r = {.srv = s};
        int rc = weft_conn_recv_fd(pipe, &r.fd, -1);
        if (rc == WEFT_ECLOSED)
            return 0; /* the server is done with us */
        if (rc < 0)
            return 1;
        weft_addr_peer(r.fd, &r.peer);
        weft__server_handle(s, &r);
        close(r.fd);
        if (weft_conn_send(pipe, &done, 1) < 0)
            return 0;
    }
}

/* ---- in the server ------------------------------------------------------- */

static int start_child(struct loop *l, int i, weft_process_fn fn)
{
    weft_process_opts po = {.daemon = true, .start_method = WEFT_START_FORK};
    struct slot *sl = &l->slots[i];
    int rc, sentinel;

    l->cur_slot = i;
    rc = weft_process_create(&sl->p, fn, l, &po);
    if (rc < 0)
        return rc;
    rc = weft_process_start(sl->p);
    if (rc < 0) {
        weft_process_destroy(sl->p);
        sl->p = NULL;
        return rc;
    }
    sentinel = weft_process_sentinel(sl->p);
    rc = sentinel < 0 ? -ECHILD : watch(l, sentinel, K_EXIT, i);
    if (rc < 0) {
        /* Without a sentinel (SIGCHLD ignored made the kernel reap it, or
         * epoll is out of room) we would never hear of it. */
        weft_process_kill(sl->p);
        weft_process_join(sl->p, -1);
        weft_process_destroy(sl->p);
        sl->p = NULL;
    }
    return rc;
}

static int start_worker(struct loop *l, int i)
{
    struct slot *sl = &l->slots[i];
    int rc = weft_pipe(&sl->parent, &sl->child, true);

    if (rc < 0)
        return rc;
    rc = start_child(l, i, prefork_worker);
    weft_conn_destroy(sl->child);
    sl->child = NULL;
    if (rc == 0 && l->s->o.kind == WEFT_SERVER_STREAM)
        rc = watch(l, weft_conn_fileno(sl->parent), K_PIPE, i);
    if (rc < 0) {
        weft_conn_destroy(sl->parent);
        sl->parent = NULL;
        if (sl->p) {
            weft_process_kill(sl->p);
            weft_process_join(sl->p, -1);
            weft_process_destroy(sl->p);
            sl->p = NULL;
        }
    }
    sl->busy = false;
    return rc;
}

/* Prefork: hand queued connections to idle workers. */
static void hand_out(struct loop *l)
{
    for (int i = 0; i < l->nslots && l->qlen > 0; i++) {
        struct slot *sl = &l->slots[i];
        int fd;
        if (!sl->p || !sl->parent || sl->busy)
            continue;
        fd = l->queue[l->qhead];
        if (weft_conn_send_fd(sl->parent, fd) < 0)
            continue; /* it died: its exit is on the way */
        close(fd);
        l->qhead = (l->qhead + 1) % l->qcap;
        l->qlen--;
        sl->busy = true;
    }
}

static int free_slot(struct loop *l)
{
    for (int i = 0; i < l->nslots; i++)
        if (!l->slots[i].p)
            return i;
    return -1;
}

/* Fork model: a child for this connection or datagram. */
static void fork_one(struct loop *l, int fd, const weft_addr *peer, size_t len)
{
    weft_server *s = l->s;
    int i = free_slot(l), rc = -EAGAIN;

    if (i >= 0) {
        l->cur_fd = fd;
        l->cur_peer = *peer;
        l->cur_len = len;
        l->slots[i].peer = *peer;
        rc = start_child(l, i, fork_child);
    }
    if (s->o.kind == WEFT_SERVER_STREAM) {
        if (rc < 0)
            weft__server_refuse(s, fd);
        else
            close(fd); /* the child has its copy */
    }
    if (rc < 0) {
        weft__log(WEFT_LOG_WARN, "server: cannot fork a handler: %s",
                  weft_strerror(rc));
        atomic_fetch_sub(&s->ctr->active, 1);
    }
}

static void take(struct loop *l, int li)
{
    weft_server *s = l->s;
    weft_addr peer;

    if (s->o.kind == WEFT_SERVER_DGRAM) {
        ssize_t n = weft__server_recv_dgram(s->fds[li], l->buf, &peer, 0);
        if (n < 0)
            return;
        if (!weft__server_admit(s)) {
            weft__log(WEFT_LOG_WARN,
                      "server: datagram dropped: %d in "
                      "progress",
                      s->o.max_conns);
            return;
        }
        l->cur_fd = s->fds[li];
        fork_one(l, s->fds[li], &peer, (size_t)n);
        return;
    }
    for (int k = 0; k < 16; k++) {
        int fd = weft_accept(s->fds[li], &peer, 0);
        if (fd == -EAGAIN)
            return;
        if (fd < 0) {
            weft__log(WEFT_LOG_WARN, "server: accept: %s", weft_strerror(fd));
            return;
        }
        if (!weft__server_admit(s)) {
            weft__server_refuse(s, fd);
            continue;
        }
        if (s->o.model == WEFT_MODEL_FORK) {
            fork_one(l, fd, &peer, 0);
            continue;
        }
        l->queue[(l->qhead + l->qlen) % l->qcap] = fd;
        l->qlen++;
        hand_out(l);
    }
}

static void child_exited(struct loop *l, int i)
{
    weft_server *s = l->s;
    struct slot *sl = &l->slots[i];
    char peer[WEFT_ADDR_TEXT_MAX] = "", who[WEFT_ADDR_TEXT_MAX + 32];
    bool worker = s->o.model == WEFT_MODEL_PREFORK;
    int code = 0;

    if (!sl->p)
        return;
    weft_process_join(sl->p, -1);
    weft_process_exitcode(sl->p, &code);
    if (worker)
        snprintf(who, sizeof who, "worker %d (pid %d)", i,
                 (int)weft_process_pid(sl->p));
    else
        weft_addr_format(&sl->peer, peer, sizeof peer);
    if (!worker)
        snprintf(who, sizeof who, "handler for %s", peer);
    if (code < 0)
        weft__log(WEFT_LOG_WARN, "server: %s killed by SIG%s", who,
                  weft_signal_name(-code) ? weft_signal_name(-code) : "?");
    else if (code > 0)
        weft__log(WEFT_LOG_WARN, "server: %s exited with %d", who, code);
    weft_process_destroy(sl->p);
    sl->p = NULL;
    if (!worker) {
        weft__server_finish(s);
        return;
    }
    if (sl->parent)
        weft_conn_destroy(sl->parent); /* epoll forgets a closed fd */
    sl->parent = NULL;
    if (sl->busy)
        weft__server_finish(s); /* its connection closed with it */
    sl->busy = false;
    if (!atomic_load(&s->ctr->stopping)) {
        int rc = start_worker(l, i);
        if (rc < 0)
            weft__log(WEFT_LOG_ERROR, "server: cannot replace worker: %s",
                      weft_strerror(rc));
    }
    hand_out(l);
}

static void worker_done(struct loop *l, int i)
{
    struct slot *sl = &l->slots[i];
    char b;

    for (;;) {
        int rc = sl->parent ? weft_conn_recv(sl->parent, &b, 1, 0) : -EBADF;
        if (rc == -EAGAIN)
            break;
        if (rc < 0) {
            /* Gone: stop listening to the pipe; its exit comes next. */
            if (sl->parent)
                epoll_ctl(l->epfd, EPOLL_CTL_DEL, weft_conn_fileno(sl->parent),
                          NULL);
            break;
        }
        sl->busy = false;
        weft__server_finish(l->s);
    }
    hand_out(l);
}

static int live_children(struct loop *l)
{
    int n = 0;
    for (int i = 0; i < l->nslots; i++)
        n += l->slots[i].p != NULL;
    return n;
}

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void begin_stop(struct loop *l)
{
    weft_server *s = l->s;

    for (size_t i = 0; i < s->n; i++) {
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, s->fds[i], NULL);
        if (s->o.kind == WEFT_SERVER_STREAM)
            shutdown(s->fds[i], SHUT_RDWR);
    }
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, s->stop_efd, NULL);
}

/* Everything still running is past its grace: end it. */
static void force(struct loop *l)
{
    weft_server *s = l->s;

    weft__log(WEFT_LOG_WARN,
              "server: grace period over, killing %d process(es)",
              live_children(l));
    atomic_store(&s->ctr->forcing, 1);
    for (int i = 0; i < l->nslots; i++)
        if (l->slots[i].p)
            weft_process_kill(l->slots[i].p);
    while (l->qlen > 0) {
        close(l->queue[l->qhead]);
        l->qhead = (l->qhead + 1) % l->qcap;
        l->qlen--;
        weft__server_finish(s);
    }
}

/* Once stopping, prefork workers are released when nothing is left for
 * them (stream: close their pipes; datagram workers see the eventfd). */
static void release_workers(struct loop *l)
{
    if (l->s->o.model != WEFT_MODEL_PREFORK || l->qlen > 0)
        return;
    for (int i = 0; i < l->nslots; i++) {
        struct slot *sl = &l->slots[i];
        if (sl->parent && !sl->busy) {
            weft_conn_destroy(sl->parent);
            sl->parent = NULL;
        }
    }
}

static int run_loop(struct loop *l)
{
    weft_server *s = l->s;
    bool stopping = false, forced = false;
    int64_t deadline = 0;

    for (;;) {
        struct epoll_event ev[64];
        int timeout = -1, n;

        if (stopping) {
            if (live_children(l) == 0)
                return 0;
            if (!forced && s->o.grace_ms >= 0) {
                int64_t left = deadline - now_ms();
                if (left <= 0) {
                    force(l);
                    forced = true;
                } else {
                    timeout = (int)left;
                }
            }
        }
        n = epoll_wait(l->epfd, ev, 64, timeout);
        if (n < 0 && errno != EINTR)
            return -errno;
        for (int k = 0; k < n; k++) {
            int kind = (int)(ev[k].data.u64 >> 32);
            int idx = (int)(uint32_t)ev[k].data.u64;
            if (kind == K_LISTEN && !stopping)
                take(l, idx);
            else if (kind == K_EXIT)
                child_exited(l, idx);
            else if (kind == K_PIPE)
                worker_done(l, idx);
            else if (kind == K_STOP && !stopping) {
                stopping = true;
                deadline = now_ms() + s->o.grace_ms;
                begin_stop(l);
            }
        }
        if (stopping)
            release_workers(l);
    }
}

static int serve(weft_server *s)
{
    struct loop l = {.s = s, .epfd = -1};
    int rc = 0;

    l.nslots = s->o.model == WEFT_MODEL_PREFORK ? s->o.workers : s->o.max_conns;
    l.slots = calloc((size_t)l.nslots, sizeof *l.slots);
    l.qcap = s->o.max_conns;
    l.queue = calloc((size_t)l.qcap, sizeof *l.queue);
    l.buf = malloc(DGRAM_BUF);
    l.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!l.slots || !l.queue || !l.buf || l.epfd < 0) {
        rc = l.epfd < 0 ? -errno : -ENOMEM;
        goto out;
    }
    rc = watch(&l, s->stop_efd, K_STOP, 0);
    for (size_t i = 0; i < s->n && rc == 0; i++) {
        /* Datagram prefork workers read their sockets themselves. */
        if (s->o.model == WEFT_MODEL_PREFORK && s->o.kind == WEFT_SERVER_DGRAM)
            break;
        rc = watch(&l, s->fds[i], K_LISTEN, (int)i);
    }
    if (s->o.model == WEFT_MODEL_PREFORK) {
        for (int i = 0; i < l.nslots && rc == 0; i++)
            rc = start_worker(&l, i);
    }
    if (rc == 0)
        rc = run_loop(&l);
    if (rc < 0) {
        /* Could not start or run: no child may outlive the call. */
        for (int i = 0; i < l.nslots; i++) {
            if (l.slots[i].p) {
                weft_process_kill(l.slots[i].p);
                weft_process_join(l.slots[i].p, -1);
                weft_process_destroy(l.slots[i].p);
            }
            weft_conn_destroy(l.slots[i].parent);
        }
        for (int i = 0; i < l.qlen; i++)
            close(l.queue[(l.qhead + i) % l.qcap]);
    }
out:
    if (l.epfd >= 0)
        close(l.epfd);
    free(l.slots);
    free(l.queue);
    free(l.buf);
    return rc;
}

int weft__serve_fork(weft_server *s)
{
    return serve(s);
}

int weft__serve_prefork(weft_server *s)
{
    return serve(s);
}
